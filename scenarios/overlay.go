package scenarios

import (
	"maps"
	"strings"
)

// Key families that a short overlay's stage replaces as a whole: setting any key of a
// family in the overlay drops the scenario's keys of the families listed with it, so an
// overlay can turn a count-bounded stage into a timed one, or a closed loop into an
// open one.
var overlayReplaces = []struct{ set, drop []string }{
	{[]string{"duration", "requests"}, []string{"duration", "requests"}},
	{[]string{"rate", "rate_per_client"}, []string{"rate", "rate_per_client", "ramp_to", "in_flight", "think"}},
	{[]string{"in_flight"}, []string{"rate", "rate_per_client", "ramp_to", "arrival", "in_flight"}},
}

// overlay is a file's short overlay as read: its top-level fields and its stages (nil
// where a stage is not a mapping).
type overlay struct {
	obj    *object
	stages []*object
}

// readOverlay decodes root's short overlay, or returns nil when the file has none or
// it is not a mapping (after recording why).
func (d *decoder) readOverlay(root *object) *overlay {
	e := root.fields["short"]
	if e == nil {
		return nil
	}
	o := d.object(e.value, e.path, shortKeys)
	if o == nil {
		return nil
	}
	ov := &overlay{obj: o}
	if e := o.fields["stages"]; e != nil {
		ov.stages = d.objects(e, stageKeys)
	}
	return ov
}

// apply lays the overlay over the scenario's top-level fields and its stages (by
// position, field by field, see overlayReplaces) and returns what the overlaid scenario
// is read from. An overlay with more stages than the scenario is a problem recorded in d.
func (d *decoder) apply(ov *overlay, root *object, stages []*object) (map[string]*entry, []*object) {
	top := maps.Clone(ov.obj.fields)
	delete(top, "stages") // merged stage by stage below
	fields := mergeFields(root.fields, top, nil)
	over := ov.stages
	if len(over) > len(stages) && len(stages) > 0 {
		e := ov.obj.fields["stages"]
		pos, path := e.key, e.path
		if o := over[len(stages)]; o != nil {
			pos, path = o.pos, o.path
		}
		d.errorf(pos, path, "the short overlay has %d stages but the scenario has %d; overlay stages are merged with the scenario's by position",
			len(over), len(stages))
		over = over[:len(stages)]
	}
	merged := make([]*object, len(stages))
	for i, b := range stages {
		merged[i] = b
		if i < len(over) && b != nil && over[i] != nil {
			merged[i] = &object{pos: b.pos, path: b.path, fields: mergeFields(b.fields, over[i].fields, overlayReplaces)}
		}
	}
	return fields, merged
}

// mergeFields returns base with over's fields laid over it. families, when given, say
// which base fields an over field removes with it (see overlayReplaces).
func mergeFields(base, over map[string]*entry, families []struct{ set, drop []string }) map[string]*entry {
	m := make(map[string]*entry, len(base)+len(over))
	for k, v := range base {
		m[k] = v
	}
	for _, f := range families {
		for _, k := range f.set {
			if over[k] != nil {
				for _, drop := range f.drop {
					delete(m, drop)
				}
				break
			}
		}
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

// withOverlay adds to errs the problems of the overlaid scenario that errs does not
// already hold, marking those outside the overlay itself "(with the short overlay)":
// they are the scenario's fields, wrong only with what the overlay changes.
func withOverlay(errs, short ErrorList) ErrorList {
	seen := make(map[Error]bool, len(errs))
	for _, e := range errs {
		seen[*e] = true
	}
	for _, e := range short {
		if seen[*e] {
			continue
		}
		if !strings.HasPrefix(e.Path, "short") {
			e.Message += " (with the short overlay)"
		}
		errs = append(errs, e)
	}
	return errs
}
