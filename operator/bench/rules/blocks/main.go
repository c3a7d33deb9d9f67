// Command blocks writes the rule benchmark's history as TSDB blocks, one per day: the raw
// request counters of every SLO for the last days the longest raw windows read, and 30 days
// of what each side's recording rules would have recorded from them (Tidewatch's 10-minute
// tiles, Sloth's 5-minute error ratio), so that both rule sets start with full windows.
// Traffic is a pure function of time, shared with the exporter that serves it live.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

const day = int64(86_400)

// Requests per second and error ratio of SLO i (the exporter uses the same formula).
func traffic(i int) (float64, float64) {
	return float64(5 + i%10), 0.0005 * float64(1+i%4)
}

func main() {
	out := flag.String("out", "", "directory to write blocks into")
	slos := flag.Int("slos", 500, "number of SLOs")
	start := flag.Int64("origin", 0, "unix seconds at which every counter is zero")
	end := flag.Int64("end", 0, "unix seconds of the newest sample")
	days := flag.Int64("days", 30, "days of recorded series")
	rawSeconds := flag.Int64("raw", 3*day+3_600, "seconds of raw counters before -end")
	step := flag.Int64("step", 30, "scrape and rule evaluation interval, seconds")
	tile := flag.Int64("tile", 600, "tile span, seconds")
	instance := flag.String("instance", "", "instance label of the scraped counters")
	flag.Parse()
	if *out == "" || *end == 0 || *start == 0 || *instance == "" {
		fmt.Fprintln(os.Stderr, "usage: blocks -out DIR -origin UNIX -end UNIX -instance HOST:PORT [-slos N]")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	first := *end - *days*day
	total := 0
	for from := first; from < *end; from += day {
		to := min(from+day, *end+1)
		w, err := tsdb.NewBlockWriter(logger, *out, 2*day*1000)
		if err != nil {
			panic(err)
		}
		app := w.Appender(context.Background())
		n := 0
		for i := 0; i < *slos; i++ {
			rps, ratio := traffic(i)
			service := fmt.Sprintf("s%d", i)
			good := labels.FromStrings("__name__", "bench_requests_total", "service", service, "code", "200", "job", "bench", "instance", *instance)
			bad := labels.FromStrings("__name__", "bench_requests_total", "service", service, "code", "500", "job", "bench", "instance", *instance)
			for t := from - from%*step; t < to; t += *step {
				if t < from || t < *end-*rawSeconds {
					continue
				}
				elapsed := float64(t - *start)
				mustRef(app.Append(0, good, t*1000, rps*(1-ratio)*elapsed))
				mustRef(app.Append(0, bad, t*1000, rps*ratio*elapsed))
				n += 2
			}
			// Sloth: the 5-minute error ratio, recorded at every evaluation.
			sloth := labels.FromStrings("__name__", "slo:sli_error:ratio_rate5m",
				"sloth_id", service+"-availability", "sloth_service", service,
				"sloth_slo", "availability", "sloth_window", "5m")
			for t := from - from%*step; t < to; t += *step {
				if t >= from {
					mustRef(app.Append(0, sloth, t*1000, ratio))
					n++
				}
			}
			// Tidewatch: the tiles, one per span.
			ids := []string{"namespace", "bench", "slo", service}
			requests := labels.FromStrings(append([]string{"__name__", "tidewatch_slo:requests:increase10m"}, ids...)...)
			errors := labels.FromStrings(append([]string{"__name__", "tidewatch_slo:errors:increase10m"}, ids...)...)
			for t := from - from%*tile; t < to; t += *tile {
				if t >= from {
					mustRef(app.Append(0, requests, t*1000, rps*float64(*tile)))
					mustRef(app.Append(0, errors, t*1000, rps*ratio*float64(*tile)))
					n += 2
				}
			}
		}
		must(app.Commit())
		if _, err := w.Flush(context.Background()); err != nil {
			panic(err)
		}
		must(w.Close())
		total += n
	}
	fmt.Printf("%d samples\n", total)
}

func mustRef(_ storage.SeriesRef, err error) { must(err) }

func must(err error) {
	if err != nil {
		panic(err)
	}
}
