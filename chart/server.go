package chart

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dmbench/dmbench/resultfmt"
)

// ServerGroup is one command within one stretch of the run (a stage, or the whole run)
// seen from both sides: the client's round trip (reply − actual send) and the server's
// own service time (from decoding the request to handing the reply to the transport).
type ServerGroup struct {
	Stage, Command             string
	ClientP50US, ClientP99US   float64
	ServiceP50US, ServiceP99US float64
	ClientCount, ServiceCount  int64
}

// ServerTimes is what the client-against-server chart draws, from result.json's
// server_view joins.
type ServerTimes struct {
	Run     Run
	Command string
	Groups  []ServerGroup
	// Skipped says which commands or stages had no figures on one side, and why.
	Skipped []string
}

// NewServerTimes reads the joins of the run's server view: each stage's when the run has
// several, else the whole run's. A command is drawn where both sides have figures: the
// client timed replies and the server's reports gave its service-time histogram. A run
// whose server sent no report (DMB 0.2.1 echoes PERFMNCE; --server-view off) is
// ErrNoData, with the reason the result gives.
func NewServerTimes(run Run, opts Options) (*ServerTimes, error) {
	r := run.Result
	if err := CheckCommand(opts.Command, []Run{run}); err != nil {
		return nil, err
	}
	sv := r.ServerView
	switch {
	case sv == nil:
		return nil, noData("the run has no server view (it was written before dmbench asked servers for their reports)")
	case !sv.Available:
		why := sv.NoReport
		if why == "" {
			why = "no reason given"
		}
		return nil, noData("the server sent no performance report: %s", why)
	}
	joins := sv.Stages
	if len(joins) <= 1 && sv.Total != nil {
		joins = []resultfmt.ServerJoin{*sv.Total}
	}
	st := &ServerTimes{Run: run, Command: opts.Command}
	for _, j := range joins {
		if j.Problem != "" {
			st.Skipped = append(st.Skipped, fmt.Sprintf("%s: %s", j.Name, j.Problem))
			continue
		}
		for _, c := range j.Commands {
			if opts.Command != "" && c.Command != opts.Command {
				continue
			}
			switch {
			case c.ClientRTTCount == 0:
				st.Skipped = append(st.Skipped, fmt.Sprintf("%s %s: no reply timed by the client", j.Name, c.Command))
				continue
			case c.ServiceTime.Count == 0:
				why := c.ServiceProblem
				if why == "" {
					why = "no service time in the server's reports"
				}
				st.Skipped = append(st.Skipped, fmt.Sprintf("%s %s: %s", j.Name, c.Command, why))
				continue
			}
			st.Groups = append(st.Groups, ServerGroup{
				Stage: j.Name, Command: c.Command,
				ClientP50US: float64(c.ClientRTTP50US), ClientP99US: float64(c.ClientRTTP99US),
				ServiceP50US: float64(c.ServiceTime.P50US), ServiceP99US: float64(c.ServiceTime.P99US),
				ClientCount: c.ClientRTTCount, ServiceCount: c.ServiceTime.Count,
			})
		}
	}
	if len(st.Groups) == 0 {
		return nil, noData("no command has both client round trips and server service times")
	}
	return st, nil
}

// Figure draws, per command (and stage), the client's p50 and p99 round trip beside the
// server's p50 and p99 service time, on a log axis: filled markers the client, hollow
// the server, joined by a line whose length is the time spent outside the server's
// handler (queueing, network, the generator).
func (s *ServerTimes) Figure() (*Figure, error) {
	title := "Client round trip and server service time · " + runTitle([]Run{s.Run})
	f := newFigure(title, runSubtitle(s.Run), 10, 5.5)
	p := newPlot("", "time (log scale)")
	p.Add(grid(false))
	names := make([]string, len(s.Groups))
	stages := map[string]bool{}
	for _, g := range s.Groups {
		stages[g.Stage] = true
	}
	yLo, yHi := math.Inf(1), 0.0
	type side struct {
		name   string
		offset float64
		client func(*ServerGroup) float64
		server func(*ServerGroup) float64
		clr    int
		filled draw.GlyphDrawer
		hollow draw.GlyphDrawer
	}
	sides := []side{
		{"p50", -0.15, func(g *ServerGroup) float64 { return g.ClientP50US }, func(g *ServerGroup) float64 { return g.ServiceP50US }, 0, draw.CircleGlyph{}, draw.RingGlyph{}},
		{"p99", +0.15, func(g *ServerGroup) float64 { return g.ClientP99US }, func(g *ServerGroup) float64 { return g.ServiceP99US }, 1, draw.PyramidGlyph{}, draw.TriangleGlyph{}},
	}
	for _, sd := range sides {
		var client, server plotter.XYs
		for i := range s.Groups {
			g := &s.Groups[i]
			names[i] = g.Command
			if len(stages) > 1 {
				names[i] = g.Stage + "\n" + g.Command
			}
			x := float64(i) + sd.offset
			c, v := math.Max(sd.client(g), 1), math.Max(sd.server(g), 1)
			client, server = append(client, plotter.XY{X: x, Y: c}), append(server, plotter.XY{X: x, Y: v})
			yLo, yHi = math.Min(yLo, math.Min(c, v)), math.Max(yHi, math.Max(c, v))
			gap, err := plotter.NewLine(plotter.XYs{{X: x, Y: c}, {X: x, Y: v}})
			if err != nil {
				return nil, fmt.Errorf("server times: %w", err)
			}
			gap.LineStyle = lineStyle(seriesColor(sd.clr), 1, nil)
			p.Add(gap)
		}
		cs, err := plotter.NewScatter(client)
		if err != nil {
			return nil, fmt.Errorf("server times: %w", err)
		}
		cs.GlyphStyle = draw.GlyphStyle{Color: seriesColor(sd.clr), Radius: vg.Points(4), Shape: sd.filled}
		ss, err := plotter.NewScatter(server)
		if err != nil {
			return nil, fmt.Errorf("server times: %w", err)
		}
		ss.GlyphStyle = draw.GlyphStyle{Color: seriesColor(sd.clr), Radius: vg.Points(4), Shape: sd.hollow}
		p.Add(cs, ss)
		f.addLegend("client round trip "+sd.name, cs)
		f.addLegend("server service time "+sd.name, ss)
	}
	p.X.Tick.Marker = categoryTicks(names)
	p.X.Min, p.X.Max = -0.6, float64(len(s.Groups))-0.4
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{formatMicros}
	p.Y.Min, p.Y.Max = niceLogRange(yLo, yHi)
	f.addPanel(p, 1)
	where := "over the whole run (warm-up included: the server cannot tell it apart)"
	if len(stages) > 1 {
		where = "per stage, between the server's reports at the stages' starts (requests in flight at a boundary fall on either side)"
	}
	f.Notes = append(f.Notes,
		"Client round trip: reply − actual send (uncorrected). Server service time: from decoding the request to handing the reply on, by the server's own histogram.",
		"The line between them is time outside the server's handler: queueing, the network and the generator; figures "+where+".")
	for _, sk := range s.Skipped {
		f.Notes = append(f.Notes, "Not drawn: "+sk+".")
	}
	return f, nil
}
