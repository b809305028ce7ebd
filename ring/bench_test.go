package ring

import (
	"strconv"
	"testing"
)

// BenchmarkNop measures submit+complete of NOPs in batches, one ns/op per NOP: the ring's
// own overhead, to compare with ../shared/anchors/liburing-nop.sh (same ring size, 256).
func BenchmarkNop(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			r, err := New(Options{Entries: 256})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			cqes := make([]*CQE, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				for i := 0; i < batch; i++ {
					sqe := r.GetSQE()
					sqe.PrepNop()
					sqe.UserData = uint64(i)
				}
				if _, err := r.SubmitAndWait(uint32(batch)); err != nil {
					b.Fatal(err)
				}
				n := r.PeekBatch(cqes)
				r.Advance(uint32(n))
				done += n
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
