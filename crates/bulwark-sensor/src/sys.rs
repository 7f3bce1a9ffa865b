//! The sensor's FFI edge: the only module (with the generated BPF skeleton in
//! [`crate::probe`]) allowed `unsafe`. It wraps the handful of raw libc calls the
//! sensor needs and that no safe std API offers: raising RLIMIT_MEMLOCK, sending
//! SIGKILL, reading CLOCK_MONOTONIC (the clock `bpf_ktime_get_ns` uses, for kill
//! latency), mounting tracefs, and the effective uid.
#![allow(unsafe_code)]

use std::io;

/// Raises RLIMIT_MEMLOCK to infinity (BPF maps on kernels before 5.11 are charged to
/// it). Without CAP_SYS_RESOURCE only the soft limit can be raised, to the hard one:
/// then `Ok(false)` (kernels since 5.11 charge BPF memory to the cgroup instead, so
/// this is usually harmless; a load that still fails says so).
pub fn raise_memlock() -> io::Result<bool> {
    let inf = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &inf) } == 0 {
        return Ok(true);
    }
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut cur) } != 0 {
        return Err(io::Error::last_os_error());
    }
    cur.rlim_cur = cur.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &cur) } == 0 {
        Ok(false)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends SIGKILL to a process.
pub fn kill9(pid: u32) -> io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    if pid <= 1 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: kill(2) takes plain integers.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends SIGCONT to a process (releases a process the kernel held with SIGSTOP).
pub fn cont(pid: u32) -> io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) takes plain integers.
    let rc = unsafe { libc::kill(pid, libc::SIGCONT) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// `mount -t tracefs nodev /sys/kernel/tracing`.
pub fn mount_tracefs() -> io::Result<()> {
    let src = c"nodev";
    let target = c"/sys/kernel/tracing";
    let fstype = c"tracefs";
    // SAFETY: all pointers are NUL-terminated static strings; data is NULL.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
