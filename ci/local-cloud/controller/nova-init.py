#!/usr/bin/python3
"""Nova's one-time database set-up for the local cloud, in one process.

Run by ci/local-cloud/controller.sh with Debian's /usr/bin/python3. Does what
these do, through nova-manage's own command classes, paying Nova's start-up
once instead of five times (seconds each on two busy cores):
  nova-manage api_db sync
  nova-manage cell_v2 map_cell0 --database_connection CELL0_DB
  nova-manage cell_v2 create_cell --name cell1 --transport-url URL
      --database_connection CELL1_DB      (or update it if it differs)
  nova-manage db sync                     (main database and cell0)
Idempotent. Usage: nova-init.py NOVA_CONF CELL0_DB CELL1_DB TRANSPORT_URL
"""

import sys

from oslo_log import log as logging

from nova.cmd import manage
from nova import config
from nova import context
import nova.conf
from nova import objects
from nova import rpc

CONF = nova.conf.CONF


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: nova-init.py NOVA_CONF CELL0_DB CELL1_DB "
                 "TRANSPORT_URL")
    conf, cell0_db, cell1_db, transport_url = sys.argv[1:]
    # As nova-manage: RPC initialised (it registers transport_url), unused.
    config.parse_args([sys.argv[0], "--config-file", conf])
    logging.setup(CONF, "nova")
    objects.register_all()

    manage.ApiDbCommands().sync()
    print("nova-init: API database in sync")

    cells = manage.CellV2Commands()
    cells.map_cell0(database_connection=cell0_db)
    ctxt = context.get_admin_context()
    cell1 = [m for m in objects.CellMappingList.get_all(ctxt)
             if m.name == "cell1"]
    if not cell1:
        rc = cells.create_cell(name="cell1", database_connection=cell1_db,
                               transport_url=transport_url, verbose=True)
        if rc:
            sys.exit("nova-init: create_cell failed (%s)" % rc)
        print("nova-init: created cell1")
    else:
        mapping = cell1[0]
        if (mapping.transport_url != transport_url or
                mapping.database_connection != cell1_db):
            mapping.transport_url = transport_url
            mapping.database_connection = cell1_db
            mapping.save()
            print("nova-init: updated cell1 %s" % mapping.uuid)
        else:
            print("nova-init: cell1 %s in place" % mapping.uuid)

    rc = manage.DbCommands().sync()  # the main database, then cell0's
    if rc:
        sys.exit("nova-init: db sync failed (%s)" % rc)
    print("nova-init: main and cell0 databases in sync")
    rpc.cleanup()


if __name__ == "__main__":
    main()
