#!/usr/bin/python3
"""Keystone's one-time set-up for the local cloud, in one process, no HTTP.

Run by ci/local-cloud/controller.sh with Debian's /usr/bin/python3 before
Keystone itself starts. It does what `keystone-manage db_sync`,
`fernet_setup`, `credential_setup` and `bootstrap` do (paying Keystone's
start-up once instead of four times), then
creates the services' identities and catalog through Keystone's own backends
(as bootstrap does). Going through the REST API instead costs one token
validation per call: over a minute on two busy cores.

Idempotent. Creates:
  - the database schema (db_sync);
  - fernet token, receipt and credential key repositories (if empty);
  - admin user/project/role, roles reader and member, region $REGION and the
    identity endpoints at http://127.0.0.1:$PORT_KEYSTONE/v3/ (bootstrap);
  - project "service", role "service", one user per service (glance,
    placement, nova, neutron) with password $SERVICE_PASSWORD and roles
    admin and service in project "service";
  - services image, placement, compute, network with public, internal and
    admin endpoints in $REGION at 127.0.0.1.
Usage: keystone-init.py KEYSTONE_CONF (settings from the environment).
"""

import os
import sys
import uuid

import keystone.conf
from keystone.cmd import bootstrap
from keystone.common import driver_hints
from keystone.common import fernet_utils
from keystone.common import provider_api
from keystone.common import sql
from keystone.common.sql import upgrades
from keystone.credential.providers import fernet as credential_fernet
from keystone import exception

CONF = keystone.conf.CONF
PROVIDERS = provider_api.ProviderAPIs


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit("keystone-init: %s is not set" % name)
    return value


def key_repositories():
    for group in ("fernet_tokens", "fernet_receipts"):
        conf = getattr(CONF, group)
        futils = fernet_utils.FernetUtils(conf.key_repository,
                                          conf.max_active_keys, group)
        futils.create_key_directory(0, 0)
        if futils.validate_key_repository(requires_write=True):
            futils.initialize_key_repository(0, 0)
    futils = fernet_utils.FernetUtils(CONF.credential.key_repository,
                                      credential_fernet.MAX_ACTIVE_KEYS,
                                      "credential")
    futils.create_key_directory(0, 0)
    if futils.validate_key_repository(requires_write=True):
        futils.initialize_key_repository(0, 0)


def ensure_role(boot, name):
    return boot._ensure_role_exists(name)["id"]


def ensure_project(domain_id, name, description):
    try:
        return PROVIDERS.resource_api.get_project_by_name(name, domain_id)["id"]
    except exception.ProjectNotFound:
        project_id = uuid.uuid4().hex
        PROVIDERS.resource_api.create_project(project_id, {
            "id": project_id, "name": name, "domain_id": domain_id,
            "enabled": True, "description": description})
        return project_id


def ensure_user(domain_id, name, password, project_id):
    try:
        user = PROVIDERS.identity_api.get_user_by_name(name, domain_id)
        try:
            PROVIDERS.identity_api.driver.authenticate(user["id"], password)
        except AssertionError:
            PROVIDERS.identity_api.update_user(user["id"],
                                               {"password": password})
        return user["id"]
    except exception.UserNotFound:
        return PROVIDERS.identity_api.create_user(user_ref={
            "name": name, "domain_id": domain_id, "enabled": True,
            "password": password, "default_project_id": project_id})["id"]


def grant(user_id, project_id, role_id):
    try:
        PROVIDERS.assignment_api.add_role_to_user_and_project(
            user_id=user_id, project_id=project_id, role_id=role_id)
    except exception.Conflict:
        pass


def ensure_catalog(region, svc_name, svc_type, description, url):
    hints = driver_hints.Hints()
    hints.add_filter("type", svc_type)
    services = PROVIDERS.catalog_api.list_services(hints)
    if services:
        service_id = services[0]["id"]
    else:
        service_id = uuid.uuid4().hex
        PROVIDERS.catalog_api.create_service(service_id, {
            "id": service_id, "name": svc_name, "type": svc_type,
            "description": description, "enabled": True})
    hints = driver_hints.Hints()
    hints.add_filter("service_id", service_id)
    endpoints = [e for e in PROVIDERS.catalog_api.list_endpoints(hints)
                 if e.get("region_id") == region]
    for interface in ("public", "internal", "admin"):
        mine = [e for e in endpoints if e["interface"] == interface]
        if not mine:
            endpoint_id = uuid.uuid4().hex
            PROVIDERS.catalog_api.create_endpoint(endpoint_id, {
                "id": endpoint_id, "interface": interface, "url": url,
                "service_id": service_id, "region_id": region,
                "enabled": True})
            continue
        if mine[0]["url"] != url:
            ref = dict(mine[0], url=url)
            PROVIDERS.catalog_api.update_endpoint(mine[0]["id"], ref)
        for extra in mine[1:]:
            PROVIDERS.catalog_api.delete_endpoint(extra["id"])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: keystone-init.py KEYSTONE_CONF")
    region = env("REGION")
    service_password = env("SERVICE_PASSWORD")
    keystone_url = "http://127.0.0.1:%s/v3/" % env("PORT_KEYSTONE")

    keystone.conf.configure()
    sql.initialize()
    keystone.conf.set_default_for_default_log_levels()
    CONF(args=[], project="keystone", default_config_files=[sys.argv[1]])
    keystone.conf.setup_logging()

    upgrades.offline_sync_database_to_version()
    print("keystone-init: database in sync")
    key_repositories()

    boot = bootstrap.Bootstrapper()  # loads the backends
    boot.admin_password = env("ADMIN_PASSWORD")
    boot.admin_username = "admin"
    boot.project_name = "admin"
    boot.admin_role_name = "admin"
    boot.service_name = "keystone"
    boot.region_id = region
    boot.public_url = boot.internal_url = boot.admin_url = keystone_url
    boot.immutable_roles = True
    boot.bootstrap()

    domain_id = CONF.identity.default_domain_id
    service_project = ensure_project(domain_id, "service", "Service project")
    admin_role = boot.admin_role_id
    service_role = ensure_role(boot, "service")

    services = [
        # (user, service name, type, description, URL)
        ("glance", "glance", "image", "OpenStack Image",
         "http://127.0.0.1:%s" % env("PORT_GLANCE")),
        ("placement", "placement", "placement", "Placement API",
         "http://127.0.0.1:%s" % env("PORT_PLACEMENT")),
        ("nova", "nova", "compute", "OpenStack Compute",
         "http://127.0.0.1:%s/v2.1" % env("PORT_NOVA")),
        ("neutron", "neutron", "network", "OpenStack Networking",
         "http://127.0.0.1:%s" % env("PORT_NEUTRON")),
    ]
    for user, svc_name, svc_type, description, url in services:
        user_id = ensure_user(domain_id, user, service_password,
                              service_project)
        grant(user_id, service_project, admin_role)
        grant(user_id, service_project, service_role)
        ensure_catalog(region, svc_name, svc_type, description, url)
    print("keystone-init: admin, project service, %d service users and the "
          "catalog in %s are in place" % (len(services), region))


if __name__ == "__main__":
    main()
