# Container images for supervise (docs/kubernetes.md explains each choice).
#
#   docker build --target go-app     -t hello-go .      # a Go app, FROM scratch
#   docker build --target python-app -t seed-python .   # the seed's Flask app
#   docker run --rm -p 8080:8080 -p 8081:8081 hello-go
#
# supervise runs as PID 1: it reaps orphans, turns SIGTERM into readiness
# 503 + shutdown-delay + a graceful drain, and exits 0.

ARG GO_VERSION=1.24

# --- build: static binaries (CGO_ENABLED=0: no libc needed at run time) ---
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
RUN go build -ldflags="-s -w" -o /out/supervise ./cmd/supervise \
 && go build -ldflags="-s -w" -o /out/hello ./examples/hello-go \
 && mkdir -p /out/tmp && chmod 1777 /out/tmp

# --- a Go app: two static binaries and an empty /tmp, nothing else ---
FROM scratch AS go-app
# The master's private runtime directory (notify socket) goes in /tmp;
# with readOnlyRootFilesystem, mount an emptyDir there.
COPY --from=build /out/tmp /tmp
COPY --from=build /out/supervise /usr/bin/supervise
COPY --from=build /out/hello /app/hello
USER 65532:65532
EXPOSE 8080 8081 9191
ENTRYPOINT ["/usr/bin/supervise"]
CMD ["--http-socket", ":8080", "--processes", "2", "--threads", "64", \
     "--health", ":8081", "--stats", ":9191", "--stats-http", \
     "--shutdown-delay", "5", "--worker-reload-mercy", "20", \
     "--", "/app/hello"]

# --- a Python app: Debian's python3 with Flask, the seed's app.py ---
FROM debian:bookworm-slim AS python-app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-flask \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/supervise /usr/bin/supervise
COPY examples/seed/app.py /app/app.py
USER 65532:65532
EXPOSE 8080 8081 9191
ENTRYPOINT ["/usr/bin/supervise"]
CMD ["--http-socket", ":8080", "--chdir", "/app", "--module", "app", "--callable", "app", \
     "--python-bin", "/usr/bin/python3", "--processes", "4", "--threads", "2", "--need-app", \
     "--health", ":8081", "--stats", ":9191", "--stats-http", \
     "--shutdown-delay", "5", "--worker-reload-mercy", "20"]
