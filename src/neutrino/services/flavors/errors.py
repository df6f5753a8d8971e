"""neutron-lib's flavor errors (names, codes and texts)."""

from __future__ import annotations

from neutrino import exceptions as exc


class FlavorNotFound(exc.NotFound):
    message = "Flavor %(flavor_id)s could not be found."


class FlavorInUse(exc.Conflict):
    message = "Flavor %(flavor_id)s is used by some service instance."


class ServiceProfileNotFound(exc.NotFound):
    message = "Service Profile %(sp_id)s could not be found."


class ServiceProfileInUse(exc.Conflict):
    message = "Service Profile %(sp_id)s is used by some service instance."


class FlavorServiceProfileBindingExists(exc.Conflict):
    message = "Service Profile %(sp_id)s is already associated with flavor %(fl_id)s."


class FlavorServiceProfileBindingNotFound(exc.NotFound):
    message = "Service Profile %(sp_id)s is not associated with flavor %(fl_id)s."


class ServiceProfileDriverNotFound(exc.NotFound):
    message = "Service Profile driver %(driver)s could not be found."


class ServiceProfileEmpty(exc.InvalidInput):
    message = "Service Profile needs either a driver or metainfo."


class FlavorDisabled(exc.ServiceUnavailable):
    message = "Flavor is not enabled."


class ServiceProfileDisabled(exc.ServiceUnavailable):
    message = "Service Profile is not enabled."
