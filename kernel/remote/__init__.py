"""Remote plugins: hooks answered by another service over signed JSON HTTP calls.

A platform administrator registers one by its manifest (:mod:`kernel.remote.router`);
every process then runs a proxy plugin for it (:mod:`kernel.remote.sync`) whose hook
implementations call the service (:mod:`kernel.remote.caller`) under a deadline, a
failure policy and a circuit breaker (:mod:`kernel.remote.breaker`).
"""
