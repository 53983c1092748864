"""Running Digit Lab on many processes or machines: app replicas behind HAProxy, a Dask engine, PostgreSQL.

`python -m deploy.stack` starts the whole stack on 127.0.0.1 (deploy/stack.py); deploy/haproxy.cfg is the
balancer's configuration, a template the launcher fills in (docs/deploy.md).
"""
