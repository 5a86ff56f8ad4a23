package scenarios_test

import (
	"fmt"

	"github.com/dmbench/dmbench/scenarios"
)

// The list `dmbench scenarios` prints.
func ExampleBundled() {
	for _, info := range scenarios.Bundled() {
		fmt.Printf("%-17s %s\n", info.Name, info.Description)
	}
	// Output:
	// capacity-ramp     open-loop GROUPADD/GROUPDIS rate in steps from 5,000/s to 200,000/s, well past DMB 0.2.1's capacity
	// channels-workers  4 Django worker connections with Poisson bursts of GROUPADD/GROUPDIS (bytes names, no ttl), as the 0.2.1 client sends
	// expiry-walk       add 1,000,000 groups with a 30 s ttl, then HARTBEAT at 1,000/s to show the periodic expiry pauses
	// group-churn       GROUPADD and GROUPDIS over 100,000 Zipf-distributed groups at 10,000/s from 64 connections
	// keepalive-storm   5,000 connections each sending HARTBEAT at about 1/s (Poisson); --clients changes the count
	// pipeline          one connection with 8 GROUPADD/GROUPDIS in flight, the pattern that stalls DMB 0.2.1
}

// Every problem of a file comes back at once, one per line.
func ExampleParse() {
	src := `name: churn
stages:
  - duration: 60s
    clients: 64
    rate: fast
    mix:
      - command: GROUPADD
        group: {zipf: 100000, s: 1}
`
	_, err := scenarios.Parse("churn.yaml", []byte(src), scenarios.LoadOptions{})
	fmt.Println(err)
	// Output:
	// churn.yaml:5:11: stages[0].rate: "fast" is not a rate (write e.g. 5000/s)
	// churn.yaml:7:9: stages[0].mix[0]: missing channel; GROUPADD needs one (e.g. channel: {uniform: 1000})
	// churn.yaml:8:34: stages[0].mix[0].group.s: 1 is out of range; the zipf exponent must be above 1 (e.g. 1.1) and at most 100
}

// A name generator makes the names a client sends, without allocating.
func ExampleNameGen() {
	sc, err := scenarios.Load("group-churn", scenarios.LoadOptions{})
	if err != nil {
		panic(err)
	}
	add := sc.Stages[0].Mix[0]
	channels := add.Channel.Source(sc.Seed)
	client3 := channels.Namer(3)
	fmt.Println(add.Channel.Kind, add.Channel.N, add.Channel.PerClient)
	fmt.Printf("%s\n", client3.Next()[:11])
	// Output:
	// uniform 1000 true
	// specific.3.
}
