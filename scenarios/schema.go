package scenarios

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
)

// This file is the schema of a scenario file: which fields each mapping may have, which
// it must have, which apply only with others, and how each field becomes part of a
// Scenario. The rules of the load itself (every range, exactly one of duration and
// requests, exactly one of an open and a closed loop, no ramp on a stage bounded by
// count, a warm-up shorter than the first stage) are loadgen.Plan.Validate's, which
// placePlan reports at the file. Checked here is what a plan cannot say: the names of
// the scenario and its stages, the target, name generators, which commands take which
// fields, a rate given both in total and per client, and a 0 written where a plan reads
// 0 as "not given".

// The fields each mapping of a scenario file may have, in the order the error messages
// list them.
var (
	topKeys   = []string{"name", "description", "seed", "warmup", "target", "timeout", "stages", "short"}
	shortKeys = []string{"seed", "warmup", "target", "timeout", "stages"}
	stageKeys = []string{"name", "duration", "requests", "clients", "connect_rate",
		"rate", "rate_per_client", "ramp_to", "arrival", "in_flight", "think", "mix"}
	requestKeys = []string{"command", "weight", "group", "channel", "name_length", "name_type", "ttl", "ack", "timeout"}
	nameGenKeys = []string{"fixed", "sequential", "uniform", "zipf", "s", "prefix", "per_client"}
)

// scenario builds a Scenario from the top-level fields and stage mappings (each may be
// nil where decoding already failed). A stage that is not a mapping stands as a zero
// Stage, so that Stages[i] is the file's stages[i] when placePlan reports the plan's
// problems.
func (d *decoder) scenario(root *object, f map[string]*entry, stages []*object) *Scenario {
	d.note("", root.pos, root.path, f)
	sc := &Scenario{Seed: DefaultSeed, Timeout: DefaultTimeout}
	if e := f["name"]; e != nil {
		if s, ok := d.text(e); ok {
			if !validName(s) {
				d.errorf(d.at[e.path], e.path, "%s is not a scenario name; use 1 to 64 letters, digits, '-', '_' or '.'", quote(s))
			}
			sc.Name = s
		}
	}
	if e := f["description"]; e != nil {
		s, _ := d.text(e)
		sc.Description = strings.TrimSpace(s)
	}
	if e := f["seed"]; e != nil {
		sc.Seed, _ = d.integer(e, math.MinInt64, math.MaxInt64, "1")
	}
	if e := f["warmup"]; e != nil {
		sc.Warmup, _ = d.duration(e)
	}
	if e := f["target"]; e != nil {
		if s, ok := d.text(e); ok {
			if msg := checkTarget(s); msg != "" {
				d.errorf(d.at[e.path], e.path, "%s", msg)
			}
			sc.Target = s
		}
	}
	if e := f["timeout"]; e != nil {
		sc.Timeout, _ = d.duration(e)
	}
	if f["stages"] == nil {
		d.errorf(root.pos, "stages", "missing; a scenario needs a list of stages (see the bundled scenarios)")
		return sc
	}
	names := map[string]string{}
	prev := 0
	if len(stages) > 0 {
		sc.Stages = make([]Stage, 0, len(stages))
	}
	for i, o := range stages {
		if o == nil {
			sc.Stages = append(sc.Stages, Stage{})
			continue
		}
		st := d.stage(o, i, prev, sc.Timeout)
		if st.Clients > 0 {
			prev = st.Clients
		}
		if p, dup := names[st.Name]; dup {
			pos := o.pos
			if e := o.fields["name"]; e != nil && d.at[e.path] != nil {
				pos = d.at[e.path]
			}
			d.errorf(pos, o.path+".name", "%s is already the name of %s; give each stage its own name", quote(st.Name), p)
		} else {
			names[st.Name] = o.path
		}
		sc.Stages = append(sc.Stages, st)
	}
	return sc
}

// validName reports whether s is a usable scenario name.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// checkTarget returns what is wrong with the target address s, or "".
func checkTarget(s string) string {
	hostport, ok := strings.CutPrefix(s, "tcp://")
	if !ok {
		return fmt.Sprintf("%s is not a DMB address; write tcp://host:port with the base (data) port, e.g. tcp://127.0.0.1:5556", quote(s))
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return fmt.Sprintf("%s is not a DMB address; write tcp://host:port with the base (data) port, e.g. tcp://127.0.0.1:5556", quote(s))
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65534 {
		return fmt.Sprintf("port %s is out of range; allowed 1 to 65534 (the signalling port, one above, must exist too)", quote(port))
	}
	return ""
}

// unreadable stands in a plan for a duration or a count that the file gives but that
// could not be read: not 0, which a plan reads as "not given", so that plan validation
// does not call the field missing as well.
const unreadable = -1

// stage builds stage number i (from 0) from o; prevClients is the previous stage's
// client count (0 for the first stage) and timeout the scenario's request timeout.
func (d *decoder) stage(o *object, i, prevClients int, timeout time.Duration) Stage {
	f := o.fields
	d.note(fmt.Sprintf("stages[%d]", i), o.pos, o.path, f)
	st := Stage{Name: fmt.Sprintf("stage-%d", i+1), Clients: prevClients}
	if e := f["name"]; e != nil {
		if s, ok := d.text(e); ok {
			if s == "" || len(s) > 64 || strings.ContainsAny(s, "\n\r\t") {
				d.errorf(d.at[e.path], e.path, "%s is not a stage name; use 1 to 64 characters on one line", quote(s))
			}
			st.Name = s
		}
	}

	if e := f["duration"]; e != nil {
		v, ok := d.duration(e)
		if ok && v <= 0 {
			d.errorf(d.at[e.path], e.path, "%s is out of range; allowed %s to %s", v, loadgen.MinStageLength, loadgen.MaxStageLength)
		}
		st.Duration = v
		if !ok || v <= 0 {
			st.Duration = unreadable
		}
	}
	if e := f["requests"]; e != nil {
		n, ok := d.integer(e, math.MinInt64, math.MaxInt64, "1M")
		if ok && n <= 0 {
			d.errorf(d.at[e.path], e.path, "%d is out of range; allowed 1 to %d", n, int64(loadgen.MaxRequests))
		}
		st.Requests = n
		if !ok || n <= 0 {
			st.Requests = unreadable
		}
	}

	if e := f["clients"]; e != nil {
		n, _ := d.integer(e, math.MinInt, math.MaxInt, "64")
		st.Clients = int(n)
	} else if i == 0 {
		d.errorf(o.pos, o.path, "missing clients; say how many connections the first stage opens (e.g. clients: 64); later stages keep it unless they change it")
	}
	if e := f["connect_rate"]; e != nil {
		if r, ok := d.rate(e); ok {
			if r <= 0 {
				d.errorf(d.at[e.path], e.path, "%s is out of range; allowed above 0/s up to %s", r, Rate(loadgen.MaxRate))
			} else {
				st.ConnectRate = r
			}
		}
	}

	rate, per := f["rate"], f["rate_per_client"]
	if rate != nil && per != nil {
		d.errorf(later(rate, per).key, later(rate, per).path, "give either rate (in total) or rate_per_client, not both")
	}
	switch {
	case rate != nil:
		st.Open = &OpenLoop{Arrival: Constant}
		st.Open.Rate, _ = d.rate(rate)
	case per != nil:
		st.Open = &OpenLoop{Arrival: Constant, PerClient: true}
		st.Open.Rate, _ = d.rate(per)
	}
	if e := f["in_flight"]; e != nil {
		n, _ := d.integer(e, math.MinInt, math.MaxInt, "8")
		st.Closed = &ClosedLoop{InFlight: int(n)}
	}
	for _, k := range []string{"ramp_to", "arrival"} {
		e := f[k]
		switch {
		case e == nil:
		case st.Open == nil:
			d.errorf(e.key, e.path, "%s applies to an open loop only; give rate or rate_per_client, or remove it", k)
		case k == "arrival":
			if a, ok := d.choice(e, string(Constant), string(Poisson)); ok {
				st.Open.Arrival = Arrival(a)
			}
		default:
			if r, ok := d.rate(e); ok {
				if r <= 0 {
					d.errorf(d.at[e.path], e.path, "%s is out of range; allowed above 0/s up to %s", r, Rate(loadgen.MaxRate))
				} else {
					st.Open.RampTo = r
				}
			}
		}
	}
	if e := f["think"]; e != nil {
		if st.Closed == nil {
			d.errorf(e.key, e.path, "think applies to a closed loop only; give in_flight, or remove it")
		} else {
			st.Closed.Think, _ = d.duration(e)
		}
	}

	if e := f["mix"]; e != nil {
		items := d.list(e)
		if len(items) > 0 {
			st.Mix = make([]Request, 0, len(items))
		}
		for j, it := range items {
			var r Request // stands for an entry that is not a mapping, so that Mix[j] is mix[j]
			if ro := d.object(it.value, it.path, requestKeys); ro != nil {
				r = d.request(ro, i, j, timeout)
			}
			st.Mix = append(st.Mix, r)
		}
	} else {
		d.errorf(o.pos, o.path, "missing mix; give the requests to send (e.g. mix: [{command: HARTBEAT}])")
	}
	return st
}

// request builds mix entry j of stage i from o.
func (d *decoder) request(o *object, i, j int, timeout time.Duration) Request {
	f := o.fields
	canonical := fmt.Sprintf("stages[%d].mix[%d]", i, j)
	d.note(canonical, o.pos, o.path, f)
	r := Request{Weight: DefaultWeight, Ack: true, Timeout: timeout, NameType: NameStr}
	named := false
	if e := f["command"]; e != nil {
		if s, ok := d.text(e); ok {
			c := protocol.Command(s)
			if !slices.Contains(protocol.RequestCommands, c) {
				allowed := make([]string, len(protocol.RequestCommands))
				for k, rc := range protocol.RequestCommands {
					allowed[k] = string(rc)
				}
				hint := ""
				if s := suggest(s, allowed); s != "" {
					hint = " (did you mean " + s + "?)"
				}
				d.errorf(d.at[e.path], e.path, "%s is not a request command%s; allowed: %s", quote(s), hint, strings.Join(allowed, ", "))
			} else {
				r.Command = c
				named = c == protocol.GroupAdd || c == protocol.GroupDiscard
			}
		}
	} else {
		d.errorf(o.pos, o.path, "missing command; say what to send (e.g. command: GROUPADD)")
	}
	if e := f["weight"]; e != nil {
		w, _ := d.integer(e, math.MinInt, math.MaxInt, "1")
		r.Weight = int(w)
	}
	length := 0
	if e := f["name_length"]; e != nil {
		n, _ := d.integer(e, 0, MaxNameLength, "24")
		length = int(n)
	}
	if e := f["name_type"]; e != nil {
		if s, ok := d.choice(e, string(NameStr), string(NameBytes)); ok {
			r.NameType = NameType(s)
		}
	}
	for _, k := range []string{"group", "channel"} {
		e := f[k]
		switch {
		case e == nil && named:
			d.errorf(o.pos, o.path, "missing %s; %s needs one (e.g. %s: {uniform: 1000})", k, r.Command, k)
		case e != nil && !named && r.Command != "":
			d.errorf(e.key, e.path, "%s sends no %s; remove it", r.Command, k)
		case e != nil && named:
			prefix := DefaultGroup
			if k == "channel" {
				prefix = DefaultChannel
			}
			g := d.nameGen(e, prefix)
			g.Length = length
			g.Stream = streamOf(canonical + "." + k)
			if k == "group" {
				r.Group = g
			} else {
				r.Channel = g
			}
		}
	}
	if !named && r.Command != "" {
		for _, k := range []string{"name_length", "name_type"} {
			if e := f[k]; e != nil {
				d.errorf(e.key, e.path, "%s sends no names; remove it", r.Command)
			}
		}
	}
	if e := f["ttl"]; e != nil {
		if r.Command != "" && r.Command != protocol.GroupAdd {
			d.errorf(e.key, e.path, "ttl is sent with GROUPADD only; remove it")
		} else if v, ok := d.duration(e); ok {
			switch {
			case v <= 0:
				d.errorf(d.at[e.path], e.path, "%s is out of range; allowed 1s to %s", v, loadgen.MaxTTL)
			case v%time.Second != 0:
				d.errorf(d.at[e.path], e.path, "%s is not a whole number of seconds, and ttl is sent in seconds; write e.g. 60s", v)
				fallthrough
			default:
				r.TTL = v
			}
		}
	}
	if e := f["ack"]; e != nil {
		r.Ack, _ = d.boolean(e)
	}
	if e := f["timeout"]; e != nil {
		v, ok := d.duration(e)
		if ok && v <= 0 {
			d.errorf(d.at[e.path], e.path, "%s is out of range; allowed %s to %s", v, loadgen.MinTimeout, loadgen.MaxTimeout)
		}
		r.Timeout = v
	}
	return r
}

// nameGen decodes a group or channel generator: text for a fixed name, or a mapping
// with one of fixed, sequential, uniform or zipf.
func (d *decoder) nameGen(e *entry, prefix string) NameGen {
	g := NameGen{Prefix: prefix, S: DefaultZipfS}
	n := d.resolve(e.value, e.path)
	if n == nil {
		return g
	}
	if s, ok := n.(*ast.StringNode); ok {
		g.Kind, g.Value, g.Prefix, g.S = Fixed, s.Value, "", 0
		if s.Value == "" {
			d.errorf(posOf(n), e.path, "the name is empty; write a name, or a generator such as {uniform: 1000}")
		}
		return g
	}
	if _, ok := n.(*ast.MappingNode); !ok {
		d.errorf(posOf(n), e.path, "found %s where a name (text) or a generator ({fixed: NAME}, {sequential: N}, {uniform: N} or {zipf: N, s: 1.1}) belongs", describe(n))
		return g
	}
	o := d.object(n, e.path, nameGenKeys)
	if o == nil {
		return g
	}
	var kinds []*entry
	for _, k := range []string{"fixed", "sequential", "uniform", "zipf"} {
		if o.fields[k] != nil {
			kinds = append(kinds, o.fields[k])
		}
	}
	switch len(kinds) {
	case 0:
		d.errorf(o.pos, o.path, "missing the kind of names; give one of fixed: NAME, sequential: N, uniform: N or zipf: N")
		return g
	case 1:
	default:
		d.errorf(later(kinds[0], kinds[1]).key, later(kinds[0], kinds[1]).path, "give one of fixed, sequential, uniform or zipf, not several")
		return g
	}
	k := kinds[0]
	switch {
	case o.fields["fixed"] != nil:
		g.Kind, g.Prefix = Fixed, ""
		g.Value, _ = d.text(k)
		if p := o.fields["prefix"]; p != nil {
			d.errorf(p.key, p.path, "a fixed name takes no prefix; write the whole name in fixed")
		}
	default:
		switch {
		case o.fields["sequential"] != nil:
			g.Kind = Sequential
		case o.fields["uniform"] != nil:
			g.Kind = Uniform
		default:
			g.Kind = Zipf
		}
		n, _ := d.integer(k, 1, MaxNames, "1000")
		g.N = uint64(n)
		if p := o.fields["prefix"]; p != nil {
			if s, ok := d.text(p); ok {
				if len(s) > MaxNameLength {
					d.errorf(p.key, p.path, "the prefix is %d bytes; allowed at most %d", len(s), MaxNameLength)
				}
				g.Prefix = s
			}
		}
	}
	if s := o.fields["s"]; s != nil {
		if g.Kind != Zipf {
			d.errorf(s.key, s.path, "s is the exponent of zipf; remove it, or use zipf: N")
		} else if v, ok := d.number(s, "1.1"); ok {
			if v <= 1 || v > 100 {
				d.errorf(d.at[s.path], s.path, "%g is out of range; the zipf exponent must be above 1 (e.g. 1.1) and at most 100", v)
			}
			g.S = v
		}
	}
	if p := o.fields["per_client"]; p != nil {
		g.PerClient, _ = d.boolean(p)
	}
	if g.Kind != Zipf {
		g.S = 0
	}
	return g
}
