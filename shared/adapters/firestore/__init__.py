"""Firestore storage, one store per feature, each bound to one tenant and org when created.

Layout, under tenants/{tenant}/orgs/{org}/: bulk_jobs/{job}/batches/{index}, products/{id}
(variants embedded), brands/{id}, categories/{id}, brand_names/{key}, category_names/{key},
brand_slugs/{slug}, category_slugs/{slug} (uniqueness guards), audit_events/{id}. Every path a
store can reach lies under its tenant and org, so another tenant's id is simply not found."""
