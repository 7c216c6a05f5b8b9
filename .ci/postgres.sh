# Sourced by .ci/run. Gives the storage/sql tests a PostgreSQL database: when GRANTS_TEST_POSTGRES_DSN
# is not set already, it starts a throw-away cluster (installing PostgreSQL from Debian packages if
# needed), exports GRANTS_TEST_POSTGRES_DSN, and stops and deletes the cluster when the shell exits.
# Port: GRANTS_TEST_POSTGRES_PORT, default 54329 (loopback only).

if [ -z "${GRANTS_TEST_POSTGRES_DSN:-}" ]; then
	_grants_pg_bin() {
		local d
		for d in /usr/lib/postgresql/*/bin; do
			if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
				echo "$d"
				return 0
			fi
		done
		return 1
	}

	GRANTS_PG_BIN="$(_grants_pg_bin || true)"
	if [ -z "$GRANTS_PG_BIN" ]; then
		echo "== installing PostgreSQL (apt)"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
		GRANTS_PG_BIN="$(_grants_pg_bin)"
	fi

	# The server refuses to run as root: run it as postgres (created by the Debian package) when root.
	if [ "$(id -u)" = 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			useradd --system --no-create-home --shell /usr/sbin/nologin postgres
		fi
		_grants_as_pg() { runuser -u postgres -- "$@"; }
	else
		_grants_as_pg() { "$@"; }
	fi

	GRANTS_PG_PORT="${GRANTS_TEST_POSTGRES_PORT:-54329}"
	GRANTS_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/grants-pg.XXXXXX")"
	chmod 755 "$GRANTS_PG_DIR"
	if [ "$(id -u)" = 0 ]; then chown postgres "$GRANTS_PG_DIR"; fi

	_grants_pg_cleanup() {
		_grants_as_pg "$GRANTS_PG_BIN/pg_ctl" -D "$GRANTS_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
		rm -rf "$GRANTS_PG_DIR"
	}
	trap _grants_pg_cleanup EXIT

	echo "== starting PostgreSQL ($("$GRANTS_PG_BIN/postgres" --version)) on 127.0.0.1:$GRANTS_PG_PORT"
	_grants_as_pg "$GRANTS_PG_BIN/initdb" -D "$GRANTS_PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
	# Throw-away data: durability settings off for speed; room for parallel tests' connection pools.
	if ! _grants_as_pg "$GRANTS_PG_BIN/pg_ctl" -D "$GRANTS_PG_DIR/data" -l "$GRANTS_PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $GRANTS_PG_PORT -k $GRANTS_PG_DIR -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null; then
		cat "$GRANTS_PG_DIR/server.log" >&2 || true
		false
	fi
	_grants_as_pg "$GRANTS_PG_BIN/createdb" -h 127.0.0.1 -p "$GRANTS_PG_PORT" -U postgres grants_test
	export GRANTS_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:$GRANTS_PG_PORT/grants_test?sslmode=disable"
fi
