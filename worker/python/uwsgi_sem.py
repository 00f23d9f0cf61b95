# Named POSIX semaphores as locks shared by every worker: uwsgi.lock(n)
# and each uWSGI cache's lock (uwsgi_api.py, uwsgi_cache.py).
#
# CPython's _multiprocessing.SemLock is a C wrapper around sem_open/
# sem_wait/sem_post: an uncontended acquire+release is two futex-free
# atomic operations and a C call each, far cheaper than a ctypes call.
# The master names them (SUPERVISE_SEM_PREFIX, docs/contract.md); the
# first process to need one creates it (O_CREAT|O_EXCL), the others open
# it, and the master removes them when it exits.
#
# A semaphore is not robust: if its holder dies, nobody posts it. So a
# holder writes its pid into a shared word (the owner) after it takes the
# lock and clears it before it lets go; a waiter that has waited
# WAIT_SLICE finds the owner dead and takes the lock over, as uWSGI's
# robust mutexes do (EOWNERDEAD). Take-overs are serialised by an fcntl
# lock, so a dead holder's lock is posted once.
import fcntl as _fcntl
import os as _os
import sys as _sys

WAIT_SLICE = 0.2  # seconds between checks that the holder is alive


def open_sem(name):
    """The named semaphore NAME as a lock (1: free), created if needed."""
    from _multiprocessing import SemLock
    for _ in range(5):
        try:
            return SemLock._rebuild(0, 1, 1, name)  # sem_open(name, 0)
        except FileNotFoundError:
            pass
        try:
            return SemLock(1, 1, 1, name, False)  # sem_open(name, O_CREAT|O_EXCL, 0600, 1)
        except FileExistsError:
            pass  # another worker made it between the two calls
    raise OSError("semaphore %s: cannot open or create it" % name)


def alive(pid):
    try:
        _os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # EPERM: alive, another user's
    return True


def wait(sem, owners, i, fd, what):
    """Blocks until this process holds sem (lock() when the first try
    failed), taking it over when its holder died."""
    while not sem.acquire(True, WAIT_SLICE):
        take_over(sem, owners, i, fd, what)


def take_over(sem, owners, i, fd, what):
    """If the pid in owners[i] is dead, posts sem for it (once, under an
    fcntl lock on byte i of fd's far end). Returns True when it did."""
    pid = owners[i]
    if not pid or alive(pid):
        return False
    byte = (1 << 40) + i
    _fcntl.lockf(fd, _fcntl.LOCK_EX, 1, byte)
    try:
        if owners[i] != pid:
            return False  # someone took it over, or a new holder has it
        if sem.acquire(False):  # it was free after all
            sem.release()
            return False
        owners[i] = 0
        try:
            sem.release()
        except ValueError:
            pass
    finally:
        _fcntl.lockf(fd, _fcntl.LOCK_UN, 1, byte)
    _sys.stderr.write("[deadlock-detector] a process (pid %d) holding %s died. recovering...\n" % (pid, what))
    return True
