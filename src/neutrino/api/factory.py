"""Builds the WSGI application from configuration: database, plugin, resources."""

from __future__ import annotations

from oslo_config import cfg

from neutrino import config
from neutrino.api.app import App, Collection
from neutrino.core.plugin import Ml2Plugin
from neutrino.db.engine import Database
from neutrino.schema import network, port, subnet
from neutrino.schema.extensions import IMPLEMENTED


def open_database(conf: cfg.ConfigOpts) -> Database:
    return Database(
        config.database_url(conf),
        max_retries=conf.max_retries,
        pool_size=conf.database.max_pool_size,
        max_overflow=conf.database.max_overflow,
    )


def build_app(conf: cfg.ConfigOpts, db: Database, plugin: Ml2Plugin | None = None) -> App:
    plugin = plugin or Ml2Plugin(conf, db)
    return App(
        [
            Collection(network.resource(), plugin.networks),
            Collection(subnet.resource(), plugin.subnets),
            Collection(port.resource(), plugin.ports),
        ],
        IMPLEMENTED,
        pagination_max_limit=conf.pagination_max_limit,
    )
