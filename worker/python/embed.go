// Package python embeds the Python WSGI worker (worker.py), a single
// stdlib-only file that the master writes into its private runtime
// directory and runs with the app's interpreter.
package python

import _ "embed"

// FileName is the worker's file name in the runtime directory.
const FileName = "worker.py"

// Source is worker.py.
//
//go:embed worker.py
var Source []byte

// APIFileName is the uwsgi module's file (uwsgi_api.py) beside worker.py;
// the worker installs it as sys.modules["uwsgi"] before the app loads.
const APIFileName = "uwsgi_api.py"

// APISource is uwsgi_api.py.
//
//go:embed uwsgi_api.py
var APISource []byte
