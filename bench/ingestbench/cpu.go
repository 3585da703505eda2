package ingestbench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat (USER_HZ):
// 100 on every Linux architecture Go runs on.
const clockTicks = 100

// procCPU returns the CPU time, user and system, of a process (all its
// threads), to the 10 ms of /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu of process %d: %w", pid, err)
	}
	return parseProcStat(string(b))
}

// selfCPU returns this process's CPU time, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// statFields splits a /proc/<pid>/stat line into the command name (field
// 2, in parentheses, which may itself hold spaces and parentheses: it ends
// at the last ')') and the fields after it, from field 3 (state) on.
func statFields(line string) (comm string, rest []string, ok bool) {
	i, j := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if i < 0 || j < i {
		return "", nil, false
	}
	return line[i+1 : j], strings.Fields(line[j+1:]), true
}

// parseProcStat reads utime and stime (fields 14 and 15).
func parseProcStat(line string) (time.Duration, error) {
	_, f, ok := statFields(line)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("cpu: malformed stat line %q", line)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu: stat field %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseCommPPID reads the command name and the parent pid (field 4).
func parseCommPPID(line string) (comm string, ppid int, ok bool) {
	comm, f, ok := statFields(line)
	if !ok || len(f) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return comm, ppid, err == nil
}
