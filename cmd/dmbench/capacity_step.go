package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/dmbench/dmbench/scenarios"
)

// stepScenario is sc reduced to one step: its stage-th stage as an open loop at rate
// (constant or Poisson arrivals) on clients connections, for warmup + window.
func stepScenario(sc *scenarios.Scenario, stage, clients int, rate float64, poisson bool, warmup, window time.Duration) *scenarios.Scenario {
	s := *sc
	st := sc.Stages[stage]
	st.Duration, st.Requests, st.Clients, st.Closed = warmup+window, 0, clients, nil
	arrival := scenarios.Constant
	if poisson {
		arrival = scenarios.Poisson
	}
	st.Open = &scenarios.OpenLoop{Rate: scenarios.Rate(rate), Arrival: arrival}
	s.Stages = []scenarios.Stage{st}
	s.Warmup = warmup
	s.Overrides = append(slices.Clone(sc.Overrides), fmt.Sprintf("capacity step: stage %s, %d clients, %v %s, warm-up %v, window %v",
		st.Name, clients, scenarios.Rate(rate), arrival, warmup, window))
	if src, err := stepSource(sc, &s); err == nil {
		sum := sha256.Sum256(src)
		s.Source, s.Hash = src, hex.EncodeToString(sum[:])
	}
	return &s
}

// stepSource writes step, which stepScenario made from sc, back as scenario text: sc's
// file with its one stage, at the step's rate, clients, arrivals and duration, and the
// step's warm-up, without the short overlay. result.json keeps it as the scenario's text,
// so that what reads the run back (plot's scheduled rate) sees the step's own plan. It is
// an error when the text does not read back as the step.
func stepSource(sc, step *scenarios.Scenario) ([]byte, error) {
	var root map[string]any
	if err := yaml.Unmarshal(sc.Source, &root); err != nil {
		return nil, err
	}
	stages, _ := root["stages"].([]any)
	st := &step.Stages[0]
	i := slices.IndexFunc(sc.Stages, func(s scenarios.Stage) bool { return s.Name == st.Name })
	if i < 0 || i >= len(stages) {
		return nil, fmt.Errorf("stage %s not found in the text", st.Name)
	}
	m, ok := stages[i].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("stage %s is not a mapping", st.Name)
	}
	for _, k := range []string{"requests", "rate_per_client", "ramp_to", "in_flight", "think"} {
		delete(m, k)
	}
	m["name"], m["duration"], m["clients"] = st.Name, st.Duration.String(), st.Clients
	m["rate"], m["arrival"] = st.Open.Rate.String(), string(st.Open.Arrival)
	root["stages"] = []any{m}
	root["warmup"] = step.Warmup.String()
	delete(root, "short")
	out, err := yaml.Marshal(root)
	if err != nil {
		return nil, err
	}
	back, err := scenarios.Parse(sc.File, out, scenarios.LoadOptions{})
	if err != nil {
		return nil, err
	}
	bs := &back.Stages[0]
	if len(back.Stages) != 1 || bs.Name != st.Name || bs.Clients != st.Clients || bs.Duration != st.Duration || back.Warmup != step.Warmup ||
		bs.Open == nil || bs.Open.Rate != st.Open.Rate || bs.Open.Arrival != st.Open.Arrival || len(bs.Mix) != len(st.Mix) {
		return nil, errors.New("the text written does not read back as the step")
	}
	return out, nil
}

// stepOverhead estimates what a step takes beyond its warm-up and window: connecting,
// draining what is outstanding (at most the longest timeout, past capacity) and writing.
func stepOverhead(sc *scenarios.Scenario) time.Duration {
	return 300*time.Millisecond + min(sc.Timeout, 2*time.Second)
}
