package ipc

// The spooler and the mules (docs/contract.md, "Spooler and mules").
//
// Every Python process (workers, spooler processes, mules) gets
// EnvServices: a JSON Services naming the inherited descriptors it
// sends on (a spooler directory's wake socket, the mules' queues) and
// the services board. A spooler process also gets EnvSpooler, a mule
// EnvMule, with the descriptors it receives on.
const (
	EnvServices = "SUPERVISE_SERVICES"
	EnvSpooler  = "SUPERVISE_SPOOLER"
	EnvMule     = "SUPERVISE_MULE"
)

// Services is EnvServices. The descriptors are SOCK_DGRAM socketpairs
// the master makes once and keeps for its life, so a message queued
// for a mule outlives the mule, and a worker of the previous
// generation reaches the spooler of the next.
type Services struct {
	Board    int          `json:"board"`    // the services board (a memfd), -1 for none
	Spoolers []SpoolerDir `json:"spoolers"` // in config order; uwsgi.spool() writes to the first unless spooler= names one
	Mules    []MuleQueue  `json:"mules"`    // mule 1..N
	Shared   int          `json:"shared"`   // the queue every mule reads (uwsgi.mule_msg(msg) without a target)
	Farms    []FarmQueue  `json:"farms"`
}

// SpoolerDir is one spooler directory: its real path, the socket a
// task's writer sends one byte on to wake a spooler process at once,
// and the board slots of its processes.
type SpoolerDir struct {
	Dir   string `json:"dir"`
	Wake  int    `json:"wake"`
	Slots []int  `json:"slots"`
}

// MuleQueue is one mule's own queue and board slot.
type MuleQueue struct {
	ID    int    `json:"id"`
	Queue int    `json:"queue"`
	Slot  int    `json:"slot"`
	Patch string `json:"patch,omitempty"` // what mule = gave: a script or module:function
}

// FarmQueue is a farm's queue, read by its mules.
type FarmQueue struct {
	Name  string `json:"name"`
	Queue int    `json:"queue"`
	Mules []int  `json:"mules"`
}

// Spooler is EnvSpooler: one spooler process's settings.
type Spooler struct {
	Dir         string   `json:"dir"`
	Wake        int      `json:"wake"` // the receiving end of the directory's wake socket
	Slot        int      `json:"slot"`
	FrequencyS  int      `json:"frequency"`
	MaxTasks    int      `json:"max_tasks"`
	HarakiriS   int      `json:"harakiri"`
	Chdir       string   `json:"chdir"`
	Import      []string `json:"import"`
	Quiet       bool     `json:"quiet"`
	Ordered     bool     `json:"ordered"`
	ProcessesOf int      `json:"processes"` // spooler processes on this directory
	Index       int      `json:"index"`     // this one among them, from 0
}

// Mule is EnvMule: one mule's receiving ends.
type Mule struct {
	ID     int            `json:"id"`
	Slot   int            `json:"slot"`
	Patch  string         `json:"patch"`
	Queue  int            `json:"queue"`  // its own
	Shared int            `json:"shared"` // every mule's
	Farms  map[string]int `json:"farms"`  // the farms it is in
}

// The services board: a memfd of ServiceSlots slots after a header of
// 8 words (magic "SVSERVC1", version); a slot is ServiceSlotWords
// little-endian uint64 words, each written by one process: the
// spooler process or mule in that slot writes its pid when it starts
// and its counters as it goes; the master zeroes a slot before it starts
// the slot's next process. Readers: the stats server (tasks, running)
// and the uwsgi module (spooler_pid(), spooler_pids()).
const (
	ServiceBoardMagic   = 0x3143565245535653 // "SVSERVC1"
	ServiceBoardVersion = 1
	ServiceHdrFrequency = 2 // header word: uwsgi.set_spooler_frequency()'s seconds, 0 = spooler-frequency
	ServiceHeaderWords  = 8
	ServiceSlots        = 1024
	ServiceSlotWords    = 8
	SvcPID              = 0 // the process's pid
	SvcTasks            = 1 // spooler: tasks run (SPOOL_OK, SPOOL_RETRY or raised); mule: messages handled
	SvcRunning          = 2 // 1 while a task (a message) is being handled
	SvcTaskStartNs      = 3 // CLOCK_MONOTONIC start of the running task
)

// ServiceBoardBytes is the board's size.
const ServiceBoardBytes = (ServiceHeaderWords + ServiceSlots*ServiceSlotWords) * 8
