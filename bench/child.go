package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
)

// runChild runs job in a fresh process: child[0] with the arguments child[1:] and the job's
// JSON as the last argument; that process runs the job and prints its Result as JSON. Each
// engine then starts from the same idle process: no threads left over by an earlier engine
// (the Go runtime keeps idle threads for good), no io-wq workers of an earlier ring, no
// GOMAXPROCS raised by a thread pool, and a clean heap. what and engine name the run in errors.
func runChild(ctx context.Context, child []string, what, engine string, job any) (Result, error) {
	js, err := json.Marshal(job)
	if err != nil {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, child[0], append(child[1:len(child):len(child)], string(js))...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("%s: %s run: %w: %s", what, engine, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var res Result
	if err := json.NewDecoder(&stdout).Decode(&res); err != nil {
		return Result{}, fmt.Errorf("%s: %s run: reading its result: %w", what, engine, err)
	}
	return res, nil
}
