// Package capacity searches for the highest load a server carries while it meets its
// latency objectives: the open-loop rate (or the number of connections) at which every
// objective still holds, nothing stalls and the generator is not the bottleneck.
//
// The search is pure logic: it calls a StepFunc to run one step at a level (a rate, or a
// number of connections) and judges the Outcome, so it is tested without sockets. It
// goes up in doubling steps from a start until a step fails, bisects between the last
// pass and the first fail to a stated precision, then repeats the best passing level to
// say how stable the answer is. Every step is planned against what is left of the time
// budget, so the search always ends within it.
//
// Judge turns a step's resultfmt.Result into an Outcome; Report writes the answer as
// text, Markdown or JSON, and Report.DrawChart draws the capacity curve.
package capacity
