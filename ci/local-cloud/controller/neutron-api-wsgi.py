#!/usr/bin/python3
"""Neutron's API application for uwsgi, with SQLAlchemy's mappers configured.

/usr/bin/neutron-api builds the application lazily; if the very first
request after start is `GET /v2.0/ports` (nova's), it can answer 500 with an
AttributeError about `port_forwardings`, because backrefs declared by other
models exist only once the mappers are configured. Configure them here,
before the first request. Configuration comes from OS_NEUTRON_CONFIG_DIR and
OS_NEUTRON_CONFIG_FILES (set in the uwsgi ini by controller.sh).
"""

from neutron.cmd.eventlet.server import main_api_eventlet
from sqlalchemy import orm

application = main_api_eventlet()
orm.configure_mappers()
