package distribution

import (
	"fmt"
	"image/color"
	"io"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot draws d as an SVG of width x height: one bar per score range (log
// scale on both axes: scores from 1, counts from 1 with the bars' base at
// 0.5 so that a range of one customer shows), and a dashed line per
// quantile, named in the legend.
func Plot(w io.Writer, d Distribution, width, height vg.Length) error {
	if d.TotalRanked == 0 || len(d.Buckets) == 0 {
		return ErrEmpty
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Board %s: %d customers with points (as of change %d)", d.Board, d.TotalRanked, d.AsOf.Seq)
	p.X.Label.Text = "points (log scale)"
	p.Y.Label.Text = "customers (log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	bars := barPlotter{d.Buckets}
	p.Add(bars)
	top := float64(1)
	for _, b := range d.Buckets {
		top = max(top, float64(b.Count))
	}
	dashes := [][]vg.Length{{vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)}, {vg.Points(1), vg.Points(3)}}
	for i, name := range QuantileNames {
		v, ok := d.Quantiles[name]
		if !ok || v < 1 {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: float64(v), Y: base}, {X: float64(v), Y: top * 2}})
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		l.Color = color.RGBA{R: 200, G: 60, B: 30, A: 255}
		l.Width = vg.Points(1.2)
		l.Dashes = dashes[i%len(dashes)]
		p.Add(l)
		p.Legend.Add(name+" = "+strconv.FormatInt(v, 10), l)
	}
	p.Legend.Top = true
	p.X.Min, p.X.Max = 1, float64(d.Buckets[len(d.Buckets)-1].To+1)
	p.Y.Min, p.Y.Max = base, top*2
	c := vgsvg.New(width, height)
	p.Draw(draw.New(c))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	return nil
}

// base is where the bars start on the log-scale count axis.
const base = 0.5

// barPlotter draws each score range [From, To+1) as a bar up to its count.
type barPlotter struct{ buckets []Bucket }

// Plot implements plot.Plotter.
func (b barPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	fill := color.RGBA{R: 40, G: 100, B: 170, A: 255}
	for _, bk := range b.buckets {
		if bk.Count <= 0 {
			continue
		}
		x0, x1 := tx(float64(bk.From)), tx(float64(bk.To+1))
		y0, y1 := ty(base), ty(float64(bk.Count))
		c.FillPolygon(fill, c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}))
	}
}

// DataRange implements plot.DataRanger.
func (b barPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = 1, 2, base, 1
	for _, bk := range b.buckets {
		xmax = max(xmax, float64(bk.To+1))
		ymax = max(ymax, float64(bk.Count))
	}
	return
}
