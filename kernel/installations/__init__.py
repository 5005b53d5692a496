"""Plugins per organization: installations, platform blocks and administrators.

* :mod:`.models` and the kernel migration ``k0004``: the tables;
* :mod:`.settings`: settings checked against a plugin's schema, secrets sealed;
* :mod:`.states`: the effective state the hook caller asks, cached per organization;
* :mod:`.generation` and :mod:`.watcher`: how every process learns of a change;
* :mod:`.service`: the changes (enable, disable, configure, uninstall, block);
* :mod:`.admins`: platform administrators;
* :mod:`.router` and :mod:`.cli`: the API and the command line.
"""
