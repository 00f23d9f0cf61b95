// hello-go is a Go app run by supervise:
//
//	go build -o hello ./examples/hello-go
//	supervise --socket 127.0.0.1:3031 --processes 4 --threads 64 -- ./hello
//	./hello                  # alone: HTTP on $PORT, default 127.0.0.1:8080
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/supervise-go/supervise/worker"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from Go (worker %d, pid %d)\n", worker.ID(), os.Getpid())
	})
	mux.HandleFunc("GET /user/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "User: %s", r.PathValue("name"))
	})
	log.Fatal(worker.Serve(mux))
}
