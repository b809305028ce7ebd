package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
)

// runFileJobChild runs j in a fresh process, child[0] with the arguments child[1:] and the
// job's JSON as the last argument (that process calls RunFileChild). Each engine then starts
// from the same idle process: no threads left over by an earlier engine (the Go runtime keeps
// idle threads for good), no GOMAXPROCS raised by a threadpool, and a clean heap.
func runFileJobChild(ctx context.Context, child []string, j FileJob) (Result, error) {
	js, err := json.Marshal(j)
	if err != nil {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, child[0], append(child[1:len(child):len(child)], string(js))...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("bench file: %s run: %w: %s", j.Engine, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var res Result
	if err := json.NewDecoder(&stdout).Decode(&res); err != nil {
		return Result{}, fmt.Errorf("bench file: %s run: reading its result: %w", j.Engine, err)
	}
	return res, nil
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
