"""python -m services.backup backup|restore|list|verify|drill"""

import sys

from services.backup.cli import main

sys.exit(main())
