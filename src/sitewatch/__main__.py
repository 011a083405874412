from sitewatch.cli import main

raise SystemExit(main())
