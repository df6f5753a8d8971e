#!/usr/bin/env bash
# Makes sure the database servers the tests use are up (PostgreSQL and MariaDB on
# loopback; RabbitMQ is started when present, for the agent tests). Starts a stopped one
# with the command this machine documents; never touches one that runs.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # port name
    for _ in $(seq 1 60); do up "$1" && return 0; sleep 1; done
    echo "ensure-services: $2 did not come up on port $1" >&2
    return 1
}

status=0
if ! up 5432; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    wait_for 5432 PostgreSQL || status=1
fi
if ! up 3306; then
    echo "ensure-services: starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    wait_for 3306 MariaDB || status=1
fi
if command -v rabbitmq-server >/dev/null && ! up 5672; then
    echo "ensure-services: starting RabbitMQ"
    rabbitmq-server -detached || true
    wait_for 5672 RabbitMQ || status=1
fi
exit $status
