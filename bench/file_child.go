package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// runFileJobChild runs j in a fresh process (see FileBench.Child and runChild).
func runFileJobChild(ctx context.Context, child []string, j FileJob) (Result, error) {
	return runChild(ctx, child, "bench file", j.Engine, j)
}

// RunFileChild is the child process's side of FileBench.Child: it runs the FileJob given as
// JSON and writes its Result as JSON to w.
func RunFileChild(ctx context.Context, jobJSON string, w io.Writer) error {
	var j FileJob
	if err := json.Unmarshal([]byte(jobJSON), &j); err != nil {
		return fmt.Errorf("bench file: child job: %w", err)
	}
	res, err := RunFileJob(ctx, j)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(&res)
}
