"""Test-only: put the fake GCP compute API and fake GitHub in place of the real ones.

tests/platform_real puts this folder first on PYTHONPATH when it runs the sample platform's
own code (its cron, the bridge); nothing of the platform is edited. Active only when
CIQ_FAKE_STATE names the shared fake-state directory (see ciq_fakes.py).
"""

import os

if os.environ.get("CIQ_FAKE_STATE"):
    import ciq_fakes

    ciq_fakes.install()
