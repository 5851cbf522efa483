"""Imports every table so that metadata (and Alembic) see the whole schema."""

from api.audit.models import *  # noqa: F401,F403
from api.catalogue.models import *  # noqa: F401,F403
from api.core.idempotency import IdempotencyRecord  # noqa: F401
from api.delivery.models import *  # noqa: F401,F403
from api.invoicing.models import *  # noqa: F401,F403
from api.licensing.models import *  # noqa: F401,F403
from api.outbox.models import *  # noqa: F401,F403
from api.partners.models import *  # noqa: F401,F403
from api.portal.models import *  # noqa: F401,F403
from api.staff.models import *  # noqa: F401,F403
from api.tracking.models import *  # noqa: F401,F403
from api.core.db import metadata  # noqa: F401
