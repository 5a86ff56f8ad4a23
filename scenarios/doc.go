// Package scenarios is dmbench's scenario file format: its strict decoding and
// validation, and the scenarios bundled with the tool. It knows nothing of sockets; the
// load engine (package loadgen) runs the Scenario values this package returns, with
// every default already filled in.
//
// # The file
//
// A scenario is one YAML document. Unknown fields are errors, and every problem in a
// file is reported at once, each as "file:line:col: path: message" (see Error and
// ErrorList):
//
//	name: group-churn          # default: the file name without .yaml
//	description: one line saying what the scenario shows
//	seed: 1                    # default 1; names, Poisson gaps and the mix draw derive from it
//	warmup: 5s                 # default 0; at the start of the first stage, recorded apart
//	target: tcp://127.0.0.1:5556   # optional DMB base address (signalling port = port+1)
//	timeout: 5s                # default request timeout, default 5s, up to 10m
//	stages:
//	  - name: churn            # default stage-1, stage-2, …; unique
//	    duration: 60s          # the stage ends after a time, or
//	    requests: 1M           #   after a count (exactly one of the two)
//	    clients: 64            # DEALER connections; required in the first stage,
//	                           #   later stages keep the previous count unless they set it
//	    connect_rate: 1000/s   # pace for opening new connections; default all at once
//	    # an open loop (scheduled sends):
//	    rate: 10000/s          # in total, or
//	    rate_per_client: 1/s   #   per connection (exactly one of the two)
//	    ramp_to: 20000/s       # optional: move linearly to this rate across the duration
//	    arrival: poisson       # constant (default) or poisson
//	    # or a closed loop (exactly one of open and closed):
//	    in_flight: 8           # requests outstanding per connection
//	    think: 1ms             # optional pause before each next request
//	    mix:                   # weighted requests, at least one
//	      - command: GROUPADD  # GROUPADD GROUPDIS FLUSHXXX PRINTXXX PERFMNCE HARTBEAT
//	        weight: 1          # default 1
//	        group: {zipf: 100000, s: 1.1, prefix: "room."}   # GROUPADD/GROUPDIS only
//	        channel: {uniform: 1000, per_client: true}       # GROUPADD/GROUPDIS only
//	        name_length: 24    # pad names to at least this many bytes
//	        name_type: bytes   # str (default) or bytes: the msgpack type of the names
//	        ttl: 60s           # GROUPADD only, whole seconds; default: not sent
//	        ack: true          # default true; without it 0.2.1 answers nothing, so the
//	                           #   request is counted as sent and never timed
//	        timeout: 2s        # default: the scenario's timeout
//	short:                     # overlay for --short (LoadOptions.Short)
//	  warmup: 1s
//	  stages:
//	    - {duration: 4s, clients: 8, rate: 2000/s}
//
// Durations are Go durations ("30s", "250ms", "1m30s"; a bare 0 is allowed). Rates are a
// count over a time: "5000/s", "20k/s", "60/m", "1/100ms" (see ParseRate). Counts may be
// written 1000000, 1_000_000, "1000k" or "1M".
//
// Parse checks a file in two parts, and reports both at the file's lines: its shape
// (fields, types, which fields go together) as it reads it, and the load it describes
// with loadgen.Plan.Validate on the plan it makes, so that the limits (clients, rates,
// counts, durations, timeouts) and the rules of a load are written once, in loadgen, and
// a scenario that Parse accepts is one that loadgen.Run accepts.
//
// A name generator (group, channel) is text for one fixed name, or a mapping with
// exactly one of fixed: NAME, sequential: N, uniform: N or zipf: N, and optionally
// s (the zipf exponent, above 1, default 1.1), prefix (default "group." or "channel.")
// and per_client (put the client number in the name). See NameGen for how names are
// made and Namer for making them without allocating.
//
// YAML anchors, aliases and merge keys (<<: *anchor) work, so a mix or a request can
// be written once and reused.
//
// # Limits
//
// Reading a file takes bounded time and memory, whatever it holds. Parse refuses, with
// that one problem, a file larger than MaxFileSize (1 MiB; Load reads no more of it), one
// whose lists and mappings nest more than MaxDepth (64) deep, checked on the raw text
// before the YAML parser reads it, and one whose aliases and merge keys stand for more
// than MaxExpansion (100,000) nodes in all, refused at the alias that passes the limit,
// before the walk follows it. A value from the file shown in a message is cut after 64
// characters, with its length in bytes, and its control characters are escaped, so
// that a file cannot write escape sequences to the terminal that shows its problems.
//
// # The short overlay
//
// short: holds seed, warmup, target, timeout and stages, laid over the scenario when
// LoadOptions.Short is set: a field given in the overlay replaces the scenario's.
// Overlay stages merge with the scenario's stages by position (the overlay may list
// fewer; the rest stay as written), field by field, with three rules so an overlay can
// change a stage's kind: setting duration or requests drops both of the scenario's;
// setting rate or rate_per_client drops the scenario's rate, rate_per_client, ramp_to,
// in_flight and think (give ramp_to again to keep a ramp); setting in_flight drops its
// rate, rate_per_client, ramp_to, arrival and in_flight. A mix in the overlay replaces the stage's whole mix. Parse checks the
// overlaid scenario as well as the full one, whichever is asked for, and marks
// problems that only the overlay brings with "(with the short overlay)". Every bundled
// scenario's overlay brings it to at most 10 s of wall time including connect and drain
// (see Scenario.Estimate).
//
// # Bundled scenarios
//
// Bundled lists them and Load takes their names: keepalive-storm, group-churn,
// capacity-ramp, pipeline, expiry-walk and channels-workers. Their files, in the
// bundled directory, explain what each shows and why its numbers are what they are.
package scenarios
