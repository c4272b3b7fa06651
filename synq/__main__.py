from synq.cli import main

main()
