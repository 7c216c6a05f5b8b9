// Command bench drives the example server and a peer server (node-oidc-provider) side by side on one
// machine: both servers pinned to one core, this load generator pinned to another, the same scenarios
// against both in the same run, and a table of requests/s, p50 and p99 with ratios. See README.md.
//
//	go run ./bench                              # memory store, all scenarios, peer from ../shared/bench/peer
//	go run ./bench -db memory,sqlite,postgres   # every store (postgres needs GRANTS_TEST_POSTGRES_DSN)
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	dbs         []string
	peerDir     string
	noPeer      bool
	serverCPU   int
	loadCPU     int
	n, warmup   int
	conns, runs int
	redeemN     int
	redeemPeer  int
	scenarios   map[string]bool
	fleetCodes  int
	fleetFor    time.Duration
	out         string
	workDir     string
	timeout     time.Duration
	profileDir  string
	fresh       bool
	profileFor  time.Duration
	floodRate   int
	floodSettle time.Duration
	exampleSrc  string
	countN      int
}

var allScenarios = []string{"device_auth", "poll_public", "poll_confidential", "poll_private_key_jwt", "client_credentials",
	"ciba_auth", "ciba_auth_email", "ciba_poll", "redeem", "fleet", "flood"}

func main() {
	var o options
	var dbs, scen string
	flag.StringVar(&dbs, "db", "memory", `comma-separated stores for the example server: "memory", "sqlite" (a new file in the work dir), a SQLite file path, "postgres" ($GRANTS_TEST_POSTGRES_DSN) or a postgres:// DSN`)
	flag.StringVar(&o.peerDir, "peer", "../shared/bench/peer", "directory (relative to the module root, where go run ./bench runs) holding the peer's server.mjs, package.json and package-lock.json (copied to the work dir, then npm ci)")
	flag.BoolVar(&o.noPeer, "no-peer", false, "run only against the example server")
	flag.IntVar(&o.serverCPU, "server-cpu", 0, "CPU both servers are pinned to (taskset); -1 to not pin")
	flag.IntVar(&o.loadCPU, "load-cpu", 1, "CPU this load generator pins itself to; -1 to not pin")
	flag.IntVar(&o.n, "n", 16000, "requests per measured run (closed-loop scenarios)")
	flag.IntVar(&o.warmup, "warmup", 4000, "requests of the warm-up run before each scenario")
	flag.IntVar(&o.conns, "c", 16, "concurrent connections")
	flag.IntVar(&o.runs, "runs", 3, "measured runs per scenario and server; the table shows medians")
	flag.IntVar(&o.redeemN, "redeem-n", 2000, "approved codes the example server redeems per redemption run")
	flag.IntVar(&o.redeemPeer, "redeem-n-peer", 200, "approved codes the peer redeems per redemption run (its memory adapter keeps only 1000 entries)")
	flag.StringVar(&scen, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios: "+strings.Join(allScenarios, ", "))
	flag.IntVar(&o.fleetCodes, "fleet-codes", 100000, "fleet scenario: pending codes, each polled once per interval")
	flag.IntVar(&o.countN, "count-n", 1000, "requests per scenario of the in-process run that counts a SQL store's statements, transactions and round trips (0: none)")
	flag.DurationVar(&o.fleetFor, "fleet-duration", 20*time.Second, "fleet scenario: how long to poll")
	flag.StringVar(&o.out, "out", "bench-results.json", "machine-readable results file")
	flag.StringVar(&o.workDir, "work", "", "work directory (example binary, peer copy, SQLite files, logs); default a new temp dir")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Minute, "stop everything after this long")
	flag.BoolVar(&o.fresh, "fresh", true, "start a new example server (and, for sqlite, a new database file) for each scenario, so that no scenario runs on the state, heap or garbage another left; false: one server per store")
	flag.StringVar(&o.profileDir, "profile", "", "after the measured runs of each scenario, run the example server once more under its CPU profiler and write <dir>/<store>-<scenario>.pprof (go tool pprof -top <file>)")
	flag.DurationVar(&o.profileFor, "profile-duration", 3*time.Second, "how long each profiled run lasts (whole seconds)")
	flag.IntVar(&o.floodRate, "flood-rate", 100, "flood scenario: wrong-secret token requests per second from "+floodAddr)
	flag.DurationVar(&o.floodSettle, "flood-settle", 5*time.Second, "flood scenario: how long the flood may run before the first flooded run if the server never answers 429")
	flag.StringVar(&o.exampleSrc, "example-src", ".", "module root to build the example server from (another checkout, to compare commits)")
	flag.BoolVar(&useRawClient, "raw", true, "send the measured requests with a minimal HTTP/1.1 client (false: Go's net/http client, which costs about as much CPU per request as the server)")
	flag.Parse()

	if o.loadCPU >= 0 && os.Getenv("GRANTS_BENCH_PINNED") == "" {
		reexecPinned(o.loadCPU)
	}
	o.dbs = splitList(dbs)
	o.scenarios = map[string]bool{}
	for _, s := range splitList(scen) {
		o.scenarios[s] = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	err := run(ctx, o)
	cancel()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// reexecPinned runs this same program again under taskset, so that every thread of the load
// generator stays on one CPU (the Go runtime then also sets GOMAXPROCS to 1).
func reexecPinned(cpu int) {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: taskset not found; the load generator is not pinned")
		return
	}
	env := append(os.Environ(), "GRANTS_BENCH_PINNED=1")
	err = syscall.Exec(ts, append([]string{"taskset", "-c", strconv.Itoa(cpu), exe}, os.Args[1:]...), env)
	fmt.Fprintln(os.Stderr, "bench: could not pin the load generator:", err)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// scenarioResult is one scenario on one server: every run and the medians.
type scenarioResult struct {
	Scenario string   `json:"scenario"`
	Server   string   `json:"server"`
	Note     string   `json:"note,omitempty"`
	Runs     []result `json:"runs,omitempty"`
	Median   *result  `json:"median,omitempty"`
	// Work is what one request asks of a SQL store (counted in a separate in-process run).
	Work *dbWork `json:"db_work,omitempty"`
}

type storeReport struct {
	Store   string            `json:"store"`
	Results []*scenarioResult `json:"results"`
}

type report struct {
	Started   time.Time      `json:"started"`
	Command   string         `json:"command"`
	LoadStart string         `json:"uptime_at_start"`
	LoadEnd   string         `json:"uptime_at_end"`
	Settings  map[string]any `json:"settings"`
	Stores    []storeReport  `json:"stores"`
}

func uptime() string {
	b, err := exec.Command("uptime").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func run(ctx context.Context, o options) error {
	if o.workDir == "" {
		d, err := os.MkdirTemp("", "grants-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.workDir = d
	}
	if err := os.MkdirAll(o.workDir, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(o.workDir, "servers.log"))
	if err != nil {
		return err
	}
	defer logf.Close()

	bin, err := filepath.Abs(filepath.Join(o.workDir, "example-server"))
	if err != nil {
		return err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./example")
	build.Dir = o.exampleSrc
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./example: %w", err)
	}

	rep := &report{Started: time.Now().UTC(), Command: strings.Join(os.Args, " "), LoadStart: uptime(),
		Settings: map[string]any{"n": o.n, "warmup": o.warmup, "connections": o.conns, "runs": o.runs,
			"redeem_n": o.redeemN, "redeem_n_peer": o.redeemPeer, "server_cpu": o.serverCPU, "load_cpu": o.loadCPU, "fleet_codes": o.fleetCodes,
			"fleet_duration_s": o.fleetFor.Seconds(), "raw_client": useRawClient, "fresh_server_per_scenario": o.fresh,
			"flood_rate": o.floodRate, "example_src": o.exampleSrc}}
	fmt.Printf("load at start: %s\n", rep.LoadStart)

	var peer *server
	if !o.noPeer {
		if peer, err = startPeer(ctx, o.peerDir, o.workDir, o.serverCPU, logf); err != nil {
			return err
		}
		defer peer.stop()
		fmt.Printf("peer: node-oidc-provider at %s (pid %d)\n", peer.issuer, peer.cmd.Process.Pid)
	}

	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	for _, db := range o.dbs {
		arg, label := db, db
		switch {
		case db == "postgres":
			arg = os.Getenv("GRANTS_TEST_POSTGRES_DSN")
			if arg == "" {
				fmt.Println("store postgres: skipped (GRANTS_TEST_POSTGRES_DSN is not set)")
				continue
			}
		case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
			label = "postgres"
		}
		if label == "postgres" {
			dsn, drop, err := benchSchema(ctx, arg)
			if err != nil {
				return fmt.Errorf("PostgreSQL: %w", err)
			}
			defer drop()
			arg = dsn
		}
		start := func() (*server, error) {
			a := arg
			if db == "sqlite" {
				a = filepath.Join(o.workDir, fmt.Sprintf("bench-%d.db", time.Now().UnixNano()))
			}
			ours, err := startOurs(ctx, bin, a, o.workDir, o.serverCPU, logf, hex.EncodeToString(tok), o.profileDir != "")
			if err == nil {
				fmt.Printf("== store %s: example server at %s (pid %d)\n", label, ours.issuer, ours.cmd.Process.Pid)
			}
			return ours, err
		}
		fmt.Printf("\n")
		sr := storeReport{Store: label}
		var probe *pgProbe
		if label == "postgres" {
			if probe, err = newPGProbe(ctx, arg); err != nil {
				return fmt.Errorf("PostgreSQL probe: %w", err)
			}
			fmt.Printf("PostgreSQL: pg_stat_statements %s; backend CPU from /proc\n", map[bool]string{true: "loaded", false: "not loaded (needs shared_preload_libraries)"}[probe.statements])
		}
		countDSN := ""
		if label != "memory" {
			countDSN = arg
		}
		sr.Results, err = runScenarios(ctx, o, label, start, peer, dbTarget{dsn: countDSN, admin: hex.EncodeToString(tok), probe: probe})
		probe.close()
		rep.Stores = append(rep.Stores, sr)
		printTable(sr)
		if err != nil {
			_ = writeReport(o.out, rep) // what was measured so far
			return err
		}
	}
	rep.LoadEnd = uptime()
	fmt.Printf("\nload at end: %s\n", rep.LoadEnd)
	if err := writeReport(o.out, rep); err != nil {
		return err
	}
	fmt.Printf("results written to %s\n", o.out)
	return nil
}

func writeReport(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// scenario prepares a target on one server; it returns a note instead when the server cannot run it.
type scenario struct {
	name    string
	prepare func(s *server, c *http.Client, n int) (target, string, error)
}

func scenarios(o options) []scenario {
	const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
	const cibaGrant = "urn:openid:params:grant-type:ciba"
	fixed := func(b string) func(int) []byte { return func(int) []byte { return []byte(b) } }
	return []scenario{
		{"device_auth", func(s *server, c *http.Client, n int) (target, string, error) {
			return target{url: s.endpoint("device_authorization_endpoint"), basic: s.basic(), body: fixed("scope=openid")}, "", nil
		}},
		{"poll_public", func(s *server, c *http.Client, n int) (target, string, error) {
			dc, err := s.newDeviceCode(c, "openid", true)
			if err != nil {
				return target{}, "", err
			}
			body := url.Values{"grant_type": {deviceGrant}, "device_code": {dc.device}, "client_id": {s.publicID}}.Encode()
			return target{url: s.endpoint("token_endpoint"), body: fixed(body)}, "", nil
		}},
		{"poll_confidential", func(s *server, c *http.Client, n int) (target, string, error) {
			dc, err := s.newDeviceCode(c, "openid", false)
			if err != nil {
				return target{}, "", err
			}
			body := url.Values{"grant_type": {deviceGrant}, "device_code": {dc.device}}.Encode()
			return target{url: s.endpoint("token_endpoint"), basic: s.basic(), body: fixed(body)}, "", nil
		}},
		{"poll_private_key_jwt", func(s *server, c *http.Client, n int) (target, string, error) {
			if s.name != "ours" || s.endpoint("registration_endpoint") == "" {
				return target{}, "skipped: the peer's static clients authenticate with client secrets", nil
			}
			bodies, err := s.pkjwtPollBodies(c, n)
			if err != nil {
				return target{}, "", err
			}
			return target{url: s.endpoint("token_endpoint"), body: func(i int) []byte { return bodies[i] }}, "", nil
		}},
		{"client_credentials", func(s *server, c *http.Client, n int) (target, string, error) {
			body := url.Values{"grant_type": {"client_credentials"}}
			if s.ccScope != "" {
				body.Set("scope", s.ccScope)
			}
			return target{url: s.endpoint("token_endpoint"), basic: s.basic(), body: fixed(body.Encode())}, "", nil
		}},
		{"ciba_auth", func(s *server, c *http.Client, n int) (target, string, error) {
			ep := s.endpoint("backchannel_authentication_endpoint")
			if ep == "" {
				return target{}, "skipped: the server does not advertise CIBA (no backchannel_authentication_endpoint)", nil
			}
			if _, err := s.newCIBARequest(c); err != nil {
				return target{}, "skipped: " + err.Error(), nil
			}
			body := url.Values{"scope": {"openid"}, "login_hint": {s.cibaHint}}.Encode()
			return target{url: ep, basic: basicHeader(s.cibaID, s.cibaSecret), body: fixed(body)}, "", nil
		}},
		{"ciba_auth_email", func(s *server, c *http.Client, n int) (target, string, error) {
			ep := s.endpoint("backchannel_authentication_endpoint")
			if ep == "" || s.cibaEmailHint == "" {
				return target{}, "skipped: no demo user whose device is a mailbox", nil
			}
			body := url.Values{"scope": {"openid"}, "login_hint": {s.cibaEmailHint}}.Encode()
			return target{url: ep, basic: basicHeader(s.cibaID, s.cibaSecret), body: fixed(body)}, "", nil
		}},
		{"ciba_poll", func(s *server, c *http.Client, n int) (target, string, error) {
			if s.endpoint("backchannel_authentication_endpoint") == "" {
				return target{}, "skipped: the server does not advertise CIBA (no backchannel_authentication_endpoint)", nil
			}
			id, err := s.newCIBARequest(c)
			if err != nil {
				return target{}, "skipped: " + err.Error(), nil
			}
			body := url.Values{"grant_type": {cibaGrant}, "auth_req_id": {id}}.Encode()
			return target{url: s.endpoint("token_endpoint"), basic: basicHeader(s.cibaID, s.cibaSecret), body: fixed(body)}, "", nil
		}},
		{"redeem", func(s *server, c *http.Client, n int) (target, string, error) {
			codes, err := s.approvedCodes(c, n, o.conns)
			if err != nil {
				return target{}, "", err
			}
			bodies := make([][]byte, len(codes))
			for i, dc := range codes {
				bodies[i] = []byte(url.Values{"grant_type": {deviceGrant}, "device_code": {dc.device}}.Encode())
			}
			return target{url: s.endpoint("token_endpoint"), basic: s.basic(), body: func(i int) []byte { return bodies[i] }}, "", nil
		}},
	}
}

// approvedCodes makes n device codes (scope s.redeemScope) and approves each through the server's
// admin or test API, concurrently.
func (s *server) approvedCodes(c *http.Client, n, conns int) ([]deviceCode, error) {
	codes := make([]deviceCode, n)
	errs := make(chan error, conns)
	next := make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
	}()
	for w := 0; w < conns; w++ {
		go func() {
			for i := range next {
				dc, err := s.newDeviceCode(c, s.redeemScope, false)
				if err == nil {
					err = s.approve(c, dc.user)
				}
				if err != nil {
					for range next {
					}
					errs <- err
					return
				}
				codes[i] = dc
			}
			errs <- nil
		}()
	}
	var first error
	for w := 0; w < conns; w++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return codes, first
}

// runScenarios runs the chosen scenarios against ours (started with start: once, or once per
// scenario with -fresh) and the peer.
// dbTarget is the SQL store of a run: its DSN for the in-process counting run ("" for the memory
// store; "sqlite" for a new SQLite file) and, on PostgreSQL, the probe of its backends.
type dbTarget struct {
	dsn   string
	admin string
	probe *pgProbe
}

// measure runs one closed loop against s and, on PostgreSQL, adds the CPU time of the backends
// serving s per request.
func measure(ctx context.Context, c *http.Client, o options, n int, t target, s *server, db dbTarget) result {
	var before map[int]float64
	pgOK := false
	if db.probe != nil && s.name == "ours" && s.cmd != nil {
		before, pgOK = db.probe.backendCPU(ctx, s.cmd.Process.Pid)
	}
	m := closedLoop(ctx, c, o.conns, n, t, s.cpuSeconds)
	if pgOK && m.Requests > 0 {
		if after, ok := db.probe.backendCPU(ctx, s.cmd.Process.Pid); ok {
			m.PGCPUPerReq = pgCPUDelta(before, after) / float64(m.Requests) * 1e6
		}
	}
	return m
}

func runScenarios(ctx context.Context, o options, store string, start func() (*server, error), peer *server, db dbTarget) ([]*scenarioResult, error) {
	c := newClient(o.conns)
	var out []*scenarioResult
	var ours *server
	defer func() {
		if ours != nil {
			ours.stop()
		}
	}()
	// ready starts ours for the next scenario: the first time, and every time with -fresh.
	ready := func() error {
		if ours != nil && !o.fresh {
			return nil
		}
		if ours != nil {
			ours.stop()
		}
		var err error
		if ours, err = start(); err != nil {
			ours = nil
		}
		return err
	}
	for _, sc := range scenarios(o) {
		if !o.scenarios[sc.name] {
			continue
		}
		if err := ready(); err != nil {
			return out, err
		}
		servers := []*server{ours}
		if peer != nil {
			servers = append(servers, peer)
		}
		res := map[*server]*scenarioResult{}
		for _, s := range servers {
			res[s] = &scenarioResult{Scenario: sc.name, Server: s.name}
		}
		// Warm-up, then the measured runs interleaved between the servers so that noise hits both alike.
		for run := -1; run < o.runs; run++ {
			for _, s := range servers {
				r := res[s]
				if r.Note != "" {
					continue
				}
				count := o.n
				if run < 0 {
					count = o.warmup
				}
				if sc.name == "redeem" {
					count = o.redeemN
					if s.name == "peer" {
						count = o.redeemPeer
					}
					if run < 0 {
						count = min(count, 100)
					}
				}
				t, note, err := sc.prepare(s, c, count)
				if err != nil {
					return out, fmt.Errorf("%s on %s: %w", sc.name, s.name, err)
				}
				if note != "" {
					r.Note = note
					continue
				}
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				m := measure(ctx, c, o, count, t, s, db)
				if run >= 0 {
					r.Runs = append(r.Runs, m)
					fmt.Printf("  %-20s %-4s run %d: %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  cpu %5.1f µs/req  %s\n",
						sc.name, s.name, run+1, m.RPS, m.P50ms, m.P99ms, m.CPUPerReq, m.codesString())
				}
			}
		}
		for _, s := range servers {
			r := res[s]
			if len(r.Runs) > 0 {
				med := median(r.Runs)
				r.Median = &med
			}
			out = append(out, r)
		}
		if db.dsn != "" && o.countN > 0 && res[ours].Median != nil {
			w, err := countWork(ctx, o, sc, db.dsn, db.admin, db.probe)
			if err != nil {
				return out, fmt.Errorf("counting the statements of %s: %w", sc.name, err)
			}
			res[ours].Work = w
			fmt.Printf("  %-20s %-4s statements %.2f/req, transaction control %.2f/req, commits %.3f/req, round trips %.2f/req\n",
				sc.name, "ours", w.Statements, w.TxControl, w.Commits, w.RoundTrips)
		}
		if o.profileDir != "" && res[ours].Median != nil {
			if err := profileScenario(ctx, o, c, store, sc, ours, res[ours].Median.RPS); err != nil {
				return out, fmt.Errorf("profiling %s: %w", sc.name, err)
			}
		}
	}
	if o.scenarios["flood"] {
		if err := ready(); err != nil {
			return out, err
		}
		rs, err := runFlood(ctx, o, ours, c)
		if err != nil {
			return out, err
		}
		out = append(out, rs...)
	}
	if o.scenarios["fleet"] {
		if err := ready(); err != nil {
			return out, err
		}
		r, err := runFleet(ctx, o, ours, c, db)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// runFleet polls many pending codes, each as a well-behaved client does (see fleet), and measures the
// answers: all should be authorization_pending.
func runFleet(ctx context.Context, o options, s *server, c *http.Client, db dbTarget) (*scenarioResult, error) {
	r := &scenarioResult{Scenario: "fleet", Server: s.name}
	codes := make([]string, o.fleetCodes)
	interval := 5 * time.Second
	next := make(chan int)
	errs := make(chan error, o.conns)
	go func() {
		for i := range codes {
			next <- i
		}
		close(next)
	}()
	for w := 0; w < o.conns; w++ {
		go func() {
			for i := range next {
				dc, err := s.newDeviceCode(c, "openid", true)
				if err != nil {
					for range next {
					}
					errs <- err
					return
				}
				codes[i] = url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc.device}, "client_id": {s.publicID}}.Encode()
			}
			errs <- nil
		}()
	}
	for w := 0; w < o.conns; w++ {
		if err := <-errs; err != nil {
			return r, err
		}
	}
	// A client waits the interval after each answer (RFC 8628 §3.5); 20 ms more absorbs timer jitter.
	period := interval + 20*time.Millisecond
	t := target{url: s.endpoint("token_endpoint"), body: func(i int) []byte { return []byte(codes[i]) }}
	conns := max(o.conns, 64)
	var pg0 map[int]float64
	pgOK := false
	if db.probe != nil && s.cmd != nil {
		pg0, pgOK = db.probe.backendCPU(ctx, s.cmd.Process.Pid)
	}
	m := fleet(ctx, newClient(conns), conns, len(codes), period, o.fleetFor, t, s.cpuSeconds)
	if pgOK && m.Requests > 0 {
		if pg1, ok := db.probe.backendCPU(ctx, s.cmd.Process.Pid); ok {
			m.PGCPUPerReq = pgCPUDelta(pg0, pg1) / float64(m.Requests) * 1e6
		}
	}
	r.Runs = []result{m}
	r.Median = &m
	r.Note = fmt.Sprintf("%d public-client codes, each polled %s after its previous answer (offered ≤ %.0f req/s), for %s over %d connections",
		len(codes), period, float64(len(codes))/period.Seconds(), o.fleetFor, conns)
	fmt.Printf("  %-20s %-4s       : %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  cpu %5.1f µs/req  server busy %.0f%%  %s\n",
		"fleet", s.name, m.RPS, m.P50ms, m.P99ms, m.CPUPerReq, m.ServerUtil*100, m.codesString())
	return r, nil
}

func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	m := result{
		RPS:         pick(func(r result) float64 { return r.RPS }),
		P50ms:       pick(func(r result) float64 { return r.P50ms }),
		P99ms:       pick(func(r result) float64 { return r.P99ms }),
		CPUPerReq:   pick(func(r result) float64 { return r.CPUPerReq }),
		ServerUtil:  pick(func(r result) float64 { return r.ServerUtil }),
		PGCPUPerReq: pick(func(r result) float64 { return r.PGCPUPerReq }),
		Codes:       map[string]int{},
	}
	for _, r := range rs {
		m.Requests += r.Requests
		m.Seconds += r.Seconds
		m.ServerCPU += r.ServerCPU
		m.Errors += r.Errors
		for k, v := range r.Codes {
			m.Codes[k] += v
		}
	}
	return m
}

func printTable(sr storeReport) {
	by := map[string]map[string]*scenarioResult{}
	var order []string
	for _, r := range sr.Results {
		if by[r.Scenario] == nil {
			by[r.Scenario] = map[string]*scenarioResult{}
			order = append(order, r.Scenario)
		}
		by[r.Scenario][r.Server] = r
	}
	fmt.Printf("\n### store: %s (medians; ours = example server, peer = node-oidc-provider; both on one core)\n\n", sr.Store)
	fmt.Println("| scenario | ours req/s | peer req/s | ours/peer | ours p50 ms | peer p50 ms | ours p99 ms | peer p99 ms | ours CPU µs/req | peer CPU µs/req | answers (ours) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, name := range order {
		o, p := by[name]["ours"], by[name]["peer"]
		cell := func(r *scenarioResult, f func(*result) string) string {
			if r == nil || r.Median == nil {
				return "–"
			}
			return f(r.Median)
		}
		rps := func(m *result) string { return fmt.Sprintf("%.0f", m.RPS) }
		p50 := func(m *result) string { return fmt.Sprintf("%.2f", m.P50ms) }
		p99 := func(m *result) string { return fmt.Sprintf("%.2f", m.P99ms) }
		cpu := func(m *result) string { return fmt.Sprintf("%.0f", m.CPUPerReq) }
		ratio := "–"
		if o != nil && p != nil && o.Median != nil && p.Median != nil && p.Median.RPS > 0 {
			ratio = fmt.Sprintf("%.2f×", o.Median.RPS/p.Median.RPS)
		}
		answers := cell(o, func(m *result) string { return m.codesString() })
		if o != nil && o.Note != "" {
			answers += " — " + o.Note
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, cell(o, rps), cell(p, rps), ratio,
			cell(o, p50), cell(p, p50), cell(o, p99), cell(p, p99), cell(o, cpu), cell(p, cpu), answers)
	}
	if o, cc := by["redeem"]["ours"], by["client_credentials"]["ours"]; o != nil && cc != nil && o.Median != nil && cc.Median != nil {
		fmt.Printf("\nours: fosite client_credentials / device-code redemption = %.2f× (req/s), %.2f× (CPU µs/req)\n",
			cc.Median.RPS/o.Median.RPS, o.Median.CPUPerReq/cc.Median.CPUPerReq)
	}
	printWork(sr.Store, order, by)
	for _, name := range order {
		if p := by[name]["peer"]; p != nil && p.Note != "" {
			fmt.Printf("peer %s: %s\n", name, p.Note)
		}
	}
}

// printWork prints what each request asked of a SQL store and what it cost on each side, and the
// capacity those costs give: requests/s per core of the application and of PostgreSQL, and how many
// application cores (instances on one core each) one PostgreSQL core keeps up with.
func printWork(store string, order []string, by map[string]map[string]*scenarioResult) {
	if store == "memory" {
		return
	}
	fmt.Printf("\n#### %s: database work per request (statements counted by the store in a separate in-process run; CPU from the measured runs)\n\n", store)
	fmt.Println("| scenario | statements | tx control | commits | round trips | pg_stat_statements calls | ours CPU µs | PostgreSQL CPU µs | ours req/s per core | PostgreSQL req/s per core | instances per PostgreSQL core |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	f := func(v float64, format string) string {
		if v <= 0 {
			return "–"
		}
		return fmt.Sprintf(format, v)
	}
	for _, name := range order {
		o := by[name]["ours"]
		if o == nil || o.Median == nil {
			continue
		}
		w := o.Work
		if w == nil {
			w = &dbWork{}
		}
		app, pg := o.Median.CPUPerReq, o.Median.PGCPUPerReq
		inst, appRate, pgRate := 0.0, 0.0, 0.0
		if app > 0 {
			appRate = 1e6 / app
		}
		if pg > 0 {
			pgRate = 1e6 / pg
		}
		if app > 0 && pg > 0 {
			inst = app / pg
		}
		rt := f(w.RoundTrips, "%.2f")
		if store != "postgres" && o.Work != nil {
			rt = "0 (in process)"
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name,
			f(w.Statements, "%.2f"), f(w.TxControl, "%.2f"), f(w.Commits, "%.3f"), rt, f(w.PGStatements, "%.2f"),
			f(app, "%.0f"), f(pg, "%.0f"), f(appRate, "%.0f"), f(pgRate, "%.0f"), f(inst, "%.1f"))
	}
}
