"""The console (/console) in real headless Chromium (Debian's, through its chromedriver) against
the local stack: sign in, watch an import reach 100%, open a product from an issue, start an
export and see its download link, and see nothing of another tenant's. Each test also saves
screenshots of its pages at 1280 px and 390 px wide in SCREENSHOTS (git-ignored), to be looked at.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from local.stack import LocalStack, console_link
from synq.client import Config, SynqClient
from tests.support import new_scope, wait_until

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".local" / "screenshots"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}
WAIT = 60.0  # seconds a page may take to show what a step waits for (a loaded machine)

pytestmark = [
    pytest.mark.emulators,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver (`make test` installs them)",
    ),
    pytest.mark.skipif(
        not (ROOT / "console" / "dist" / "index.html").exists(), reason="the console is not built (`make console`)"
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    # The chromedriver given: Selenium then looks nothing up or down.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module", autouse=True)
def screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)


@pytest.fixture()
def page(browser: WebDriver) -> Iterator[WebDriver]:
    """The browser on a blank console tab: no credentials left from another test."""
    viewport(browser, *WIDTHS["wide"])
    yield browser
    browser.execute_script("sessionStorage.clear()")


class Tenant:
    """A tenant of the test's own, seen through the API as one of its ADMINs."""

    def __init__(self, stack: LocalStack, role: str = "ADMIN") -> None:
        self.scope = new_scope()
        self.token = stack.token(tenant_id=self.scope.tenant_id, org_id=self.scope.org_id, role=role)
        self.admin = SynqClient(
            Config(
                stack.url,
                stack.token(tenant_id=self.scope.tenant_id, org_id=self.scope.org_id),
                self.scope.tenant_id,
                self.scope.org_id,
            )
        )
        self.link = console_link(stack.url, self.token, self.scope.tenant_id, self.scope.org_id)

    def seed(self, products: list[dict[str, Any]]) -> list[str]:
        """Import the products and wait for the job; their ids."""
        job = self.admin.create_job("BULK_IMPORT", payload=products)
        done = wait_until(lambda: (j := self.admin.get_job(job.id)).finished and j, timeout=120, interval=0.5)
        assert done.status == "COMPLETED"
        return [p["id"] for p in self.admin.list_products()]


def products(n: int, prefix: str) -> list[dict[str, Any]]:
    """Products with findings: half without a SKU, every third with a bad barcode."""
    return [
        {
            "title": f"{prefix} product {i}",
            **({"sku": f"{prefix}-{i}"} if i % 2 else {}),
            **({"barcode": "12345"} if i % 3 == 0 else {}),
            "brand": "Acme",
        }
        for i in range(n)
    ]


def wait(driver: WebDriver, condition: Any, message: str) -> Any:
    return WebDriverWait(driver, WAIT, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: condition(d), message
    )


def find(driver: WebDriver, selector: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def viewport(driver: WebDriver, width: int, height: int) -> None:
    """The page's viewport exactly this size (as a phone's at 390 px), whatever the window's frame."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def shoot(driver: WebDriver, name: str, ready: str) -> None:
    """The page at both widths, its first screen and whole (the viewport as tall as the page), after `ready` shows. At
    390 px nothing may stick out sideways (wide tables turn into one block per row)."""
    for label, (width, height) in WIDTHS.items():
        viewport(driver, width, height)
        wait(driver, lambda d: find(d, ready), f"{ready} on {name} at {width}px")
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{label}-first-screen.png"))
        full = driver.execute_script("return document.documentElement.scrollHeight")
        viewport(driver, width, min(max(full, height), 4000))
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{label}.png"))
        assert overflow <= 0, f"{name} is {overflow}px wider than the {width}px window"
    viewport(driver, *WIDTHS["wide"])


def drawn(driver: WebDriver, chart: str) -> dict[str, list[str]]:
    """A chart's figures, from the table that follows it for screen readers: label -> its values."""
    rows = find(driver, f"[data-testid={chart}] table tbody tr")
    text = lambda e: e.get_attribute("textContent")  # noqa: E731 - hidden cells have no .text
    return {
        text(r.find_element(By.TAG_NAME, "th")): [text(c) for c in r.find_elements(By.TAG_NAME, "td")] for r in rows
    }


def sign_in_by_link(driver: WebDriver, tenant: Tenant) -> None:
    driver.get(tenant.link)
    wait(driver, lambda d: find(d, "[data-testid=who]"), "signed in")
    assert "token=" not in driver.current_url  # the fragment is wiped at once


def go(driver: WebDriver, route: str) -> None:
    driver.execute_script("window.location.hash = arguments[0]", route)


def test_sign_in_with_token_and_ids_keeps_them_in_the_tab_only(page: WebDriver, stack: LocalStack) -> None:
    tenant = Tenant(stack, role="EDITOR")
    page.get(f"{stack.url}/console")
    shoot(page, "sign-in", "form textarea[name=token]")
    page.find_element(By.NAME, "token").send_keys(tenant.token)
    page.find_element(By.NAME, "tenant_id").send_keys(tenant.scope.tenant_id)
    org = page.find_element(By.NAME, "org_id")
    org.send_keys(tenant.scope.org_id)
    org.send_keys(Keys.ENTER)
    who = wait(page, lambda d: find(d, "[data-testid=who]"), "signed in")[0]
    assert "EDITOR" in who.text
    stored = json.loads(page.execute_script("return JSON.stringify(sessionStorage)"))
    assert tenant.token in "".join(stored.values())
    assert page.execute_script("return localStorage.length") == 0
    assert tenant.token not in page.execute_script("return document.cookie")

    # The pages are reachable by keyboard: Tab reaches the navigation, Enter follows a link.
    body = page.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)  # the skip link
    for _ in range(3):
        page.switch_to.active_element.send_keys(Keys.TAB)
    active = page.switch_to.active_element
    assert active.text == "Exports", active.text
    active.send_keys(Keys.ENTER)
    wait(page, lambda d: d.current_url.endswith("#/exports"), "Enter follows the focused link")


def test_an_import_started_in_the_console_reaches_100_percent(
    page: WebDriver, stack: LocalStack, tmp_path: Path
) -> None:
    tenant = Tenant(stack)
    sign_in_by_link(page, tenant)
    # The link's token was never sent to a server: no function's log has it.
    logs = "".join(p.read_text(errors="replace") for p in (stack.state_dir / "logs").glob("*.log"))
    assert tenant.token not in logs

    file = tmp_path / "products.json"
    file.write_text(json.dumps([*products(58, "Import"), {"sku": "no-title-1"}, {"sku": "no-title-2"}]))
    wait(page, lambda d: find(d, "[data-testid=import-file]"), "the import form")[0].send_keys(str(file))
    page.find_element(By.CSS_SELECTOR, "[data-testid=start-import]").click()
    bar = wait(page, lambda d: find(d, "[data-testid=job-progress]"), "the new job's bar")[0]
    wait(
        page,
        lambda d: find(d, "[data-testid=job][data-status=COMPLETED] [data-testid=job-progress][aria-valuenow='100']"),
        "the bar at 100% and the job COMPLETED",
    )
    assert bar.get_attribute("aria-valuenow") == "100"
    assert "60 / 60" in find(page, "[data-testid=job]")[0].text
    assert find(page, "[data-testid=cancel-job]") == []  # finished: nothing to cancel

    # The two items without a title failed: their errors come as CSV, fetched with the token.
    page.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    link = page.find_element(By.CSS_SELECTOR, "[data-testid=errors-csv]")
    assert link.text == "Errors (2) as CSV" and link.get_attribute("href").endswith("/errors?format=csv")
    link.click()
    [csv] = wait(page, lambda d: list(tmp_path.glob("job-*-errors.csv")), "the errors CSV downloaded")
    rows = csv.read_text().strip().splitlines()
    assert len(rows) == 3 and all("title" in r for r in rows[1:]), rows  # a header and the two failures
    shoot(page, "jobs", "[data-testid=job]")


def test_an_issue_opens_its_product_with_fields_issues_and_history(page: WebDriver, stack: LocalStack) -> None:
    tenant = Tenant(stack)
    tenant.seed(products(12, "Quality"))
    [bad] = [p for p in tenant.admin.list_products() if p["title"] == "Quality product 3"]
    sign_in_by_link(page, tenant)
    go(page, "#/quality")
    wait(page, lambda d: find(d, "[data-testid=score-histogram] canvas"), "the score histogram")
    wait(page, lambda d: find(d, "[data-testid=issues-by-code] canvas"), "the issues-by-code chart")
    # The figures are GET /stats's: 12 products, 4 of them (0, 3, 6, 9) blocked by a bad barcode.
    figure = lambda name: page.find_element(By.CSS_SELECTOR, f"[data-testid=figure-{name}]").text  # noqa: E731
    assert figure("products").startswith("12\n") and figure("blocked").startswith("4\n")
    # What the charts draw, as their accessible tables say: 4 INVALID_BARCODE errors, 6 MISSING_SKU
    # warnings, and every product in one of ten score buckets.
    issues = drawn(page, "issues-by-code")
    assert issues["INVALID_BARCODE"][0] == "4" and issues["MISSING_SKU"][-1] == "6", issues
    buckets = drawn(page, "score-histogram")
    assert len(buckets) == 10 and sum(int(n) for [n] in buckets.values()) == 12, buckets
    shoot(page, "quality", "[data-testid=issues] tbody tr")

    # Filter the list to the bad barcode, then follow the issue to its product.
    page.find_element(By.NAME, "code").send_keys("INVALID_BARCODE", Keys.ENTER)
    wait(
        page,
        lambda d: (
            (rows := find(d, "[data-testid=issues] tbody tr"))
            and all("INVALID_BARCODE" in r.text for r in rows)
            and len(rows) == 4
        ),
        "only the 4 INVALID_BARCODE issues (products 0, 3, 6, 9)",
    )
    [link] = [
        a
        for a in find(page, "[data-testid=issue-product]")
        if a.get_attribute("href").endswith(f"#/products/{bad['id']}")
    ]
    link.click()
    title = wait(
        page, lambda d: [e for e in find(d, "[data-testid=product-title]") if e.text == bad["title"]], "the product"
    )
    assert title
    fields = page.find_element(By.CSS_SELECTOR, "[data-testid=product-fields]").text
    assert "12345" in fields and "Acme" in fields
    wait(page, lambda d: find(d, "[data-testid=issues] code"), "the product's issues")
    codes = {e.text for e in find(page, "[data-testid=issues] code")}
    assert "INVALID_BARCODE" in codes
    history = wait(page, lambda d: find(d, "[data-testid=audit] tbody tr"), "the product's history")
    assert "product.created" in history[-1].text
    shoot(page, "product", "[data-testid=audit] tbody tr")


def test_an_export_started_in_the_console_offers_its_download(page: WebDriver, stack: LocalStack) -> None:
    tenant = Tenant(stack)
    tenant.seed(products(5, "Export"))
    sign_in_by_link(page, tenant)
    go(page, "#/exports")
    wait(page, lambda d: find(d, "[data-testid=start-export]"), "the export form")[0].click()
    link = wait(page, lambda d: find(d, "[data-testid=download]"), "the download link")[0]
    answer = requests.get(link.get_attribute("href"), timeout=30)
    assert answer.status_code == 200
    # Products 0 and 3 have a bad barcode: blocked from the export, and the page says so.
    assert answer.text.count("Export product") == 3
    assert "3 (2 blocked)" in find(page, "[data-testid=export]")[0].text
    shoot(page, "exports", "[data-testid=download]")


def test_another_tenants_token_shows_none_of_the_first_tenants_data(page: WebDriver, stack: LocalStack) -> None:
    first = Tenant(stack)
    ids = first.seed(products(4, "Secret"))
    first.admin.create_export("CSV")
    sign_in_by_link(page, first)
    go(page, "#/audit")
    wait(page, lambda d: "Secret product" in d.find_element(By.TAG_NAME, "main").text, "the first tenant's audit log")
    shoot(page, "audit", "[data-testid=audit] tbody tr")

    page.find_element(By.XPATH, "//button[text()='Sign out']").click()
    second = Tenant(stack)
    page.find_element(By.NAME, "token").send_keys(second.token)
    page.find_element(By.NAME, "tenant_id").send_keys(second.scope.tenant_id)
    page.find_element(By.NAME, "org_id").send_keys(second.scope.org_id, Keys.ENTER)
    for route, empty in (
        ("#/jobs", "No bulk jobs yet."),
        ("#/quality", "No open issues match."),
        ("#/exports", "No exports yet."),
        ("#/audit", "No audit events match."),
    ):
        go(page, route)
        wait(page, lambda d, e=empty: e in d.find_element(By.TAG_NAME, "main").text, f"{route} empty")
        text = page.find_element(By.TAG_NAME, "body").text + page.page_source
        assert "Secret" not in text and not any(i in text for i in ids), route
    go(page, f"#/products/{ids[0]}")
    wait(page, lambda d: find(d, "[role=alert]"), "the first tenant's product refused")
    assert "Secret" not in page.find_element(By.TAG_NAME, "main").text


def test_a_viewer_sees_no_write_buttons(page: WebDriver, stack: LocalStack) -> None:
    tenant = Tenant(stack, role="VIEWER")
    tenant.admin.create_job("BULK_IMPORT", payload=products(3, "Viewer"))
    sign_in_by_link(page, tenant)
    wait(page, lambda d: find(d, "[data-testid=job]"), "the jobs list")
    assert "VIEWER" in page.find_element(By.CSS_SELECTOR, "[data-testid=who]").text
    assert find(page, "[data-testid=start-import]") == [] and find(page, "[data-testid=cancel-job]") == []
    go(page, "#/exports")
    wait(page, lambda d: "Exports" in d.find_element(By.TAG_NAME, "h1").text, "the exports page")
    assert find(page, "[data-testid=start-export]") == []
