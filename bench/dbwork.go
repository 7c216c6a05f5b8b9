package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the bench's own connection to PostgreSQL

	example "github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/handler/pending"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// dbWork is what one request asks of the database, counted by the SQL store (sqlstore.Stats) of an
// example server run in this process for the same scenario, and, on PostgreSQL, what it cost there.
type dbWork struct {
	Requests   int     `json:"requests"`
	Statements float64 `json:"statements_per_request"`
	TxControl  float64 `json:"tx_control_per_request"`
	Commits    float64 `json:"commits_per_request"`
	RoundTrips float64 `json:"round_trips_per_request"`
	// PGStatements is pg_stat_statements' count of calls per request, when the extension is loaded.
	PGStatements float64 `json:"pg_stat_statements_calls_per_request,omitempty"`
}

// countWork runs sc once more against an example server in this process on the store dsn (a new
// SQLite file in dir for "sqlite"), over conns connections, and counts the store's statements.
func countWork(ctx context.Context, o options, sc scenario, dsn, adminToken string, pg *pgProbe) (*dbWork, error) {
	if dsn == "sqlite" {
		dsn = filepath.Join(o.workDir, fmt.Sprintf("count-%d.db", time.Now().UnixNano()))
	}
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	issuer := "http://" + ln.Addr().String()
	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	ex, err := example.New(srvCtx, benchOptions(example.Options{Issuer: issuer, AdminToken: adminToken, Store: st}))
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	hs := &http.Server{Handler: ex, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() { _ = hs.Close() }()
	s := oursAt(issuer, adminToken)
	if err := s.waitReady(ctx, "/.well-known/openid-configuration"); err != nil {
		return nil, err
	}
	c := newClient(o.conns)
	n := o.countN
	t, note, err := sc.prepare(s, c, n)
	if err != nil || note != "" {
		return nil, err
	}
	before := st.Stats()
	calls0 := pg.calls(ctx)
	m := closedLoop(ctx, c, o.conns, n, t, func() float64 { return 0 })
	after := st.Stats()
	calls1 := pg.calls(ctx)
	if m.Requests == 0 {
		return nil, errors.New("no request answered")
	}
	per := func(a, b int64) float64 { return float64(b-a) / float64(m.Requests) }
	w := &dbWork{
		Requests:   m.Requests,
		Statements: per(before.Queries, after.Queries),
		TxControl:  per(before.TxControl, after.TxControl),
		Commits:    per(before.Commits, after.Commits),
		RoundTrips: per(before.RoundTrips, after.RoundTrips),
	}
	if calls0 >= 0 && calls1 >= 0 {
		w.PGStatements = float64(calls1-calls0) / float64(m.Requests)
	}
	return w, nil
}

// pgProbe is the bench's own connection to the PostgreSQL server under test: it finds the backends
// serving a process and reads their CPU time from /proc (the server runs on this machine), and reads
// pg_stat_statements when the extension is loaded. A nil probe answers nothing.
type pgProbe struct {
	db         *sql.DB
	port       int  // the server's port, to recognise our server's connections
	statements bool // pg_stat_statements can be read
}

func newPGProbe(ctx context.Context, dsn string) (*pgProbe, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	port := 5432
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	p := &pgProbe{db: db, port: port}
	// pg_stat_statements needs shared_preload_libraries; where it is not preloaded, reading it fails.
	if _, err := db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err == nil {
		var n sql.NullInt64
		p.statements = db.QueryRowContext(ctx, "SELECT sum(calls) FROM pg_stat_statements").Scan(&n) == nil
	}
	return p, nil
}

func (p *pgProbe) close() {
	if p != nil {
		_ = p.db.Close()
	}
}

// calls returns pg_stat_statements' calls in the current database so far, or -1.
func (p *pgProbe) calls(ctx context.Context) int64 {
	if p == nil || !p.statements {
		return -1
	}
	var n sql.NullInt64
	err := p.db.QueryRowContext(ctx, "SELECT sum(calls) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&n)
	if err != nil {
		return -1
	}
	return n.Int64
}

// backendCPU returns the CPU seconds (user+system) used so far by the PostgreSQL backends connected to
// process pid, by backend: the process's TCP connections to the server's port are matched with
// pg_stat_activity's client ports. ok is false when that cannot be read (PostgreSQL on another host).
func (p *pgProbe) backendCPU(ctx context.Context, pid int) (map[int]float64, bool) {
	if p == nil {
		return nil, false
	}
	ports, err := localPortsTo(pid, p.port)
	if err != nil || len(ports) == 0 {
		return nil, false
	}
	rows, err := p.db.QueryContext(ctx, "SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL")
	if err != nil {
		return nil, false
	}
	defer rows.Close()
	out := map[int]float64{}
	for rows.Next() {
		var bpid, cport int
		if err := rows.Scan(&bpid, &cport); err != nil {
			return nil, false
		}
		if ports[cport] {
			if cpu, ok := procCPU(bpid); ok {
				out[bpid] = cpu
			}
		}
	}
	return out, rows.Err() == nil
}

// pgCPUDelta is the CPU time the backends in after used since before (a backend that is new counts
// from its start).
func pgCPUDelta(before, after map[int]float64) float64 {
	d := 0.0
	for pid, a := range after {
		d += a - before[pid]
	}
	return d
}

// procCPU reads the user+system CPU seconds of a process from /proc/<pid>/stat.
func procCPU(pid int) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	str := string(b)
	i := strings.LastIndexByte(str, ')')
	f := strings.Fields(str[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, true // USER_HZ is 100 on Linux
}

// localPortsTo returns the local ports of process pid's TCP connections to remote port rport.
func localPortsTo(pid, rport int) (map[int]bool, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || !inodes[fs[9]] {
				continue
			}
			lp, rp := hexPort(fs[1]), hexPort(fs[2])
			if rp == rport {
				ports[lp] = true
			}
		}
	}
	return ports, nil
}

// hexPort returns the port of an address of /proc/net/tcp ("0100007F:1F90").
func hexPort(addr string) int {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(p, 16, 32)
	if err != nil {
		return -1
	}
	return int(n)
}

// benchOptions sets o's initiation rate limits as the example binary's -initiation-limit does in a
// load run (benchInitiationLimit), for the servers the bench runs in its own process.
func benchOptions(o example.Options) example.Options {
	o.Policy.Device.Initiation = pending.InitiationLimits{PerAddress: benchInitiationLimit}
	o.Policy.CIBA.Initiation = pending.InitiationLimits{PerUser: benchInitiationLimit, PerClient: benchInitiationLimit}
	return o
}

// benchSchema creates a schema of this run's own in the PostgreSQL database dsn names and returns a DSN
// whose search_path is that schema, and a function that drops it. Every run so starts on empty tables,
// leaves the database's other schemas alone, and brings keys of its own: a database remembers the keys
// it was first opened with and refuses a server started with others (sqlstore.VerifyKeys).
func benchSchema(ctx context.Context, dsn string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("grants_bench_%d", time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = db.Close()
		return "", nil, fmt.Errorf("create the run's schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = db.Close()
	}
	return u.String(), drop, nil
}
