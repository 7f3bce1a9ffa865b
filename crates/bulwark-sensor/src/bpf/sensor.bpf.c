// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bulwark's runtime sensor: classic tracepoints only (this kernel loads neither LSM
 * nor tp_btf/fentry programs), one event record per hook into a BPF ring buffer.
 * Filtering done here: the sensor's own process, host processes when only containers
 * are watched (mount-namespace inum equal to the host's), chmod calls that set no
 * setuid/setgid bit, thread (non-leader) exits, and all syscalls but the module ones
 * on the raw_syscalls hook. Reservation failures (ring buffer full) are counted in a
 * per-CPU array that user space reads and reports. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sensor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space before load. */
const volatile __u32 host_mntns = 0;
const volatile __u32 self_tgid = 0;
const volatile __u8 containers_only = 0;
/* Stop (SIGSTOP) container processes at urgent events until user space has decided. */
const volatile __u8 hold_urgent = 0;
/* Filter read-only opens by path (read_prefix_set, read_component_set); set by user space
 * only when every loaded rule's interest in read-only opens is summed up by them. */
const volatile __u8 read_filter = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* [0] events lost because the ring buffer was full, [1] events submitted, [2] read-only
 * opens filtered out in the kernel (no rule can match them). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Per event kind: 1 = send SIGKILL in the kernel when a container process does it
 * (set by user space for rules whose whole condition is "this syscall in a container"). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, K_MAX);
	__type(key, __u32);
	__type(value, __u32);
} kill_kinds SEC(".maps");

/* (kind, comm) pairs to SIGKILL in the kernel when a container process does them (rules
 * of the shape "this syscall, by a process of this name, in a container"). */
struct comm_key {
	__u32 kind;
	char comm[TASK_COMM];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct comm_key);
	__type(value, __u32);
} kill_comm SEC(".maps");

/* The read-only open filter. A read-only open (none of O_WRONLY, O_RDWR, O_CREAT,
 * O_TRUNC) of an absolute path is dropped here, before any other work, unless the path
 * starts with one of the rules' prefixes, has one of their components, or is not in
 * canonical form ("//", "." or ".." components: kept, whatever user space later makes
 * of it). Relative paths (resolved in user space against the cwd), paths of PATH_KEY
 * bytes or more, and unreadable paths are always kept.
 *
 * Prefixes and components are two 65,536-bit sets of FNV-1a hashes, filled by user
 * space: one pass over the path tests the hash of every prefix of it (the running hash
 * after each byte) and of every component (at its end). A hash collision only keeps an
 * open that could have been dropped; no helper call, no map lookup per byte. */
#define PATH_KEY 256
#define SET_WORDS 1024 /* 64-bit words: 65,536 bits each */
__u64 read_prefix_set[SET_WORDS];
__u64 read_component_set[SET_WORDS];

struct path_buf {
	char data[PATH_KEY];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_scratch SEC(".maps");

static __always_inline int in_set(__u64 *set, __u64 h)
{
	return (set[(h >> 6) & (SET_WORDS - 1)] >> (h & 63)) & 1;
}

#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

#define S_ISUID 04000
#define S_ISGID 02000

/* Kinds with kill or pause rules (1 here) go to their own small ring buffer, which
 * wakes user space at every event: user space reads that ring first, so an event it
 * must act on never waits behind a backlog of ordinary events. The ordinary ring wakes
 * user space only once WAKE_BYTES are waiting (user space also polls every 20 ms): a
 * wakeup per event costs a context switch per event, which dominated the overhead of
 * an open storm. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, K_MAX);
	__type(key, __u32);
	__type(value, __u32);
} wake_kinds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} urgent SEC(".maps");

#define WAKE_BYTES (64 * 1024)

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

/* 1 when the current task's events are dropped before anything else: the sensor
 * itself, and host processes when only containers are watched. */
static __always_inline int ignored_task(void)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if ((__u32)(pt >> 32) == self_tgid)
		return 1;
	if (!containers_only)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum) == host_mntns;
}

static __always_inline struct event *start(__u32 kind)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tgid = pt >> 32;
	if (tgid == self_tgid)
		return NULL;
	__u32 mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	if (containers_only && mntns == host_mntns)
		return NULL;
	__u32 *w = bpf_map_lookup_elem(&wake_kinds, &kind);
	struct event *e;
	if (w && *w)
		e = bpf_ringbuf_reserve(&urgent, sizeof(*e), 0);
	else
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(0);
		return NULL;
	}
	e->ts = bpf_ktime_get_ns();
	e->kind = kind;
	e->pid = tgid;
	e->tid = (__u32)pt;
	e->mntns = mntns;
	__u64 ug = bpf_get_current_uid_gid();
	e->uid = (__u32)ug;
	e->gid = ug >> 32;
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->flags = 0;
	e->str2_len = 0;
	e->pad = (w && *w) ? 1 : 0; /* 1: urgent ring */
	__builtin_memset(e->args, 0, sizeof(e->args));
	e->str1[0] = 0;
	e->str2[0] = 0;
	e->str3[0] = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	BPF_CORE_READ_STR_INTO(&e->pcomm, t, real_parent, comm);
	e->cap_eff = 0;
	const struct cred *cred = BPF_CORE_READ(t, cred);
	bpf_core_read(&e->cap_eff, sizeof(e->cap_eff), &cred->cap_effective);
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	struct upid up = {};
	bpf_core_read(&up, sizeof(up), &p->numbers[level & 7]);
	e->vpid = up.nr;
	e->pidns = BPF_CORE_READ(up.ns, ns.inum);
	if (BPF_CORE_READ(t, signal, tty))
		e->flags |= F_TTY;
	return e;
}

static __always_inline void submit(struct event *e)
{
	if (e->pad) {
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
		return;
	}
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKE_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void finish(struct event *e)
{
	__u32 k = e->kind;
	__u32 *kill = bpf_map_lookup_elem(&kill_kinds, &k);
	if (e->mntns != host_mntns) {
		int doit = kill && *kill;
		if (!doit) {
			struct comm_key ck = {};
			ck.kind = k;
			bpf_get_current_comm(ck.comm, sizeof(ck.comm));
			__u32 *v = bpf_map_lookup_elem(&kill_comm, &ck);
			doit = v && *v;
		}
		if (doit) {
			bpf_send_signal(9);
			e->flags |= F_KILLED;
		} else if (e->pad && hold_urgent) {
			/* A kill rule may match: hold the process (it cannot return to user
			 * space) until user space kills it or lets it continue. */
			bpf_send_signal(19);
			e->flags |= F_HELD;
		}
	}
	count(1);
	submit(e);
}

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct event *e = start(K_EXEC);
	if (!e)
		return 0;
	unsigned int off = ctx->__data_loc_filename & 0xFFFF;
	bpf_probe_read_kernel_str(e->str1, sizeof(e->str1), (void *)ctx + off);
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	unsigned long a0 = BPF_CORE_READ(mm, arg_start);
	unsigned long a1 = BPF_CORE_READ(mm, arg_end);
	unsigned long n = a1 - a0;
	if (n > STR2_LEN - 1)
		n = STR2_LEN - 1;
	n &= (STR2_LEN - 1);
	if (bpf_probe_read_user(e->str2, n, (void *)a0) == 0)
		e->str2_len = n;
	e->args[0] = a1 - a0; /* full length of the argument area */
	const unsigned char *dname = BPF_CORE_READ(mm, exe_file, f_path.dentry, d_name.name);
	bpf_probe_read_kernel_str(e->str3, sizeof(e->str3), dname);
	finish(e);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if ((__u32)pt != (pt >> 32))
		return 0; /* a thread, not the process */
	struct event *e = start(K_EXIT);
	if (!e)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	e->args[0] = BPF_CORE_READ(t, exit_code);
	count(1);
	submit(e); /* never killed: it is leaving */
	return 0;
}

SEC("tracepoint/sched/sched_process_fork")
int handle_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	struct event *e = start(K_FORK);
	if (!e)
		return 0;
	e->args[0] = ctx->child_pid;
	count(1);
	submit(e);
	return 0;
}

/* The walk over a path's bytes (bpf_loop: verified once, not per iteration). */
struct scan {
	struct path_buf *k;
	long n;
	__u64 ph; /* hash of the path so far (its prefix) */
	__u64 ch; /* hash of the current component so far */
	__u32 clen;
	__u32 dots;
	int keep;
};

/* One byte of the walk: 0 to go on, 1 to stop (keep says whether to keep the open). */
static __always_inline int scan_byte(struct scan *s, __u32 i)
{
	if (i >= s->n || i >= PATH_KEY)
		return 1;
	char c = s->k->data[i & (PATH_KEY - 1)];
	if (c == '/' || c == 0) {
		if (s->clen == 0) {
			if (c != 0)
				s->keep = 1; /* "//" */
			return 1;            /* or a trailing "/" */
		}
		if (s->dots == s->clen && s->clen <= 2) {
			s->keep = 1; /* "." or ".." */
			return 1;
		}
		if (in_set(read_component_set, s->ch)) {
			s->keep = 1;
			return 1;
		}
		if (c == 0)
			return 1;
		s->ch = FNV_OFFSET;
		s->clen = 0;
		s->dots = 0;
	} else {
		s->ch = (s->ch ^ (__u8)c) * FNV_PRIME;
		s->clen++;
		if (c == '.')
			s->dots++;
	}
	s->ph = (s->ph ^ (__u8)c) * FNV_PRIME;
	if (in_set(read_prefix_set, s->ph)) {
		s->keep = 1;
		return 1;
	}
	return 0;
}

#define SCAN_CHUNK 8
/* SCAN_CHUNK bytes per bpf_loop step: a callback call costs more than a byte's work. */
static long scan_step(__u32 idx, void *arg)
{
	struct scan *s = arg;
	__u32 base = idx * SCAN_CHUNK + 1; /* data[0] is the leading '/' */
#pragma unroll
	for (int j = 0; j < SCAN_CHUNK; j++)
		if (scan_byte(s, base + j))
			return 1;
	return 0;
}

/* 1 when a read-only open can be dropped (see read_prefix_set above). */
static __always_inline int read_open_filtered(const char *path, __u64 flags)
{
	if (!read_filter || !path)
		return 0;
	if (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))
		return 0;
	if (ignored_task())
		return 1; /* start() would drop it anyway: no need to read the path */
	__u32 z = 0;
	struct path_buf *k = bpf_map_lookup_elem(&path_scratch, &z);
	if (!k)
		return 0;
	long n = bpf_probe_read_user_str(k->data, sizeof(k->data), path);
	/* n counts the NUL: 2 is "/" alone; PATH_KEY may be a cut-off path */
	if (n < 2 || n >= PATH_KEY || k->data[0] != '/')
		return 0;
	struct scan sc = {
		.k = k,
		.n = n,
		.ph = (FNV_OFFSET ^ '/') * FNV_PRIME,
		.ch = FNV_OFFSET,
	};
	if (in_set(read_prefix_set, sc.ph))
		return 0; /* the prefix "/" */
	bpf_loop(PATH_KEY / SCAN_CHUNK, scan_step, &sc, 0);
	if (sc.keep)
		return 0;
	count(2);
	return 1;
}

static __always_inline int path_event(__u32 kind, const char *path, __u64 a0, __u64 a1, __u64 a2)
{
	struct event *e = start(kind);
	if (!e)
		return 0;
	if (path)
		bpf_probe_read_user_str(e->str1, sizeof(e->str1), path);
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	finish(e);
	return 0;
}

/* openat(dfd, filename, flags, mode): args = dfd, flags, mode */
SEC("tracepoint/syscalls/sys_enter_openat")
int handle_openat(struct trace_event_raw_sys_enter *ctx)
{
	/* The arguments are read once, up front: clang may otherwise keep a pointer into
	 * the context across the filter, and the verifier refuses modified ctx pointers. */
	const char *path = (const char *)ctx->args[1];
	__u64 dfd = ctx->args[0], flags = ctx->args[2], mode = ctx->args[3];
	if (read_open_filtered(path, flags))
		return 0;
	return path_event(K_OPENAT, path, dfd, flags, mode);
}

/* openat2(dfd, filename, how, size): args = dfd, how.flags, how.mode */
SEC("tracepoint/syscalls/sys_enter_openat2")
int handle_openat2(struct trace_event_raw_sys_enter *ctx)
{
	__u64 how[2] = {};
	bpf_probe_read_user(how, sizeof(how), (void *)ctx->args[2]);
	if (read_open_filtered((const char *)ctx->args[1], how[0]))
		return 0;
	return path_event(K_OPENAT2, (const char *)ctx->args[1], ctx->args[0], how[0], how[1]);
}

/* The socket behind a descriptor of the current task, NULL when it cannot be read
 * (descriptor out of range; not a socket gives garbage the caller must not trust
 * beyond a protocol or family check). */
static __always_inline struct sock *fd_sock(__u64 fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt)
		return NULL;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) != 0 || !f)
		return NULL;
	struct socket *s = (struct socket *)BPF_CORE_READ(f, private_data);
	if (!s)
		return NULL;
	return BPF_CORE_READ(s, sk);
}

/* The IP protocol (IPPROTO_TCP, _UDP, _SCTP) of the socket behind a descriptor of the
 * current task, 0 when it cannot be read (not a socket, descriptor out of range). */
static __always_inline __u64 sock_protocol(__u64 fd)
{
	struct sock *sk = fd_sock(fd);
	if (!sk)
		return 0;
	return BPF_CORE_READ(sk, sk_protocol);
}

/* accept/accept4 returned: the new socket's peer (str2, a sockaddr_in/in6), its local
 * port (args[1]) and protocol (args[2]); args[0] is the descriptor. */
static __always_inline int accepted(struct trace_event_raw_sys_exit *ctx)
{
	long fd = ctx->ret;
	if (fd < 0)
		return 0;
	struct sock *sk = fd_sock((__u64)fd);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != 2 && family != 10)
		return 0;
	struct event *e = start(K_ACCEPTED);
	if (!e)
		return 0;
	e->args[0] = fd;
	e->args[1] = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->args[2] = BPF_CORE_READ(sk, sk_protocol);
	__u16 dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	e->str2[0] = family & 0xff;
	e->str2[1] = family >> 8;
	/* dport is in network order: its bytes in memory order */
	e->str2[2] = dport & 0xff;
	e->str2[3] = dport >> 8;
	if (family == 2) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(&e->str2[4], &a, 4);
		e->str2_len = 16;
	} else {
		struct in6_addr a6 = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		__builtin_memcpy(&e->str2[8], &a6, 16);
		e->str2_len = 28;
	}
	finish(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_accept_exit(struct trace_event_raw_sys_exit *ctx) { return accepted(ctx); }

SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_accept4_exit(struct trace_event_raw_sys_exit *ctx) { return accepted(ctx); }

static __always_inline int sock_event(__u32 kind, struct trace_event_raw_sys_enter *ctx, int with_addr)
{
	struct event *e = start(kind);
	if (!e)
		return 0;
	e->args[0] = ctx->args[0];
	if (with_addr) {
		e->args[2] = sock_protocol(ctx->args[0]);
		__u32 n = ctx->args[2];
		if (n > 127)
			n = 127;
		n &= 127;
		if (bpf_probe_read_user(e->str2, n, (void *)ctx->args[1]) == 0)
			e->str2_len = n;
		e->args[1] = ctx->args[2];
	}
	finish(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int handle_connect(struct trace_event_raw_sys_enter *ctx) { return sock_event(K_CONNECT, ctx, 1); }

SEC("tracepoint/syscalls/sys_enter_accept")
int handle_accept(struct trace_event_raw_sys_enter *ctx) { return sock_event(K_ACCEPT, ctx, 0); }

SEC("tracepoint/syscalls/sys_enter_accept4")
int handle_accept4(struct trace_event_raw_sys_enter *ctx) { return sock_event(K_ACCEPT4, ctx, 0); }

/* mount(dev_name, dir_name, type, flags, data): str1 = target, str2 = source, str3 = fstype */
SEC("tracepoint/syscalls/sys_enter_mount")
int handle_mount(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = start(K_MOUNT);
	if (!e)
		return 0;
	bpf_probe_read_user_str(e->str1, sizeof(e->str1), (void *)ctx->args[1]);
	long n = bpf_probe_read_user_str(e->str2, sizeof(e->str2), (void *)ctx->args[0]);
	if (n > 0)
		e->str2_len = n - 1;
	bpf_probe_read_user_str(e->str3, sizeof(e->str3), (void *)ctx->args[2]);
	e->args[0] = ctx->args[3];
	finish(e);
	return 0;
}

/* umount2(name, flags) */
SEC("tracepoint/syscalls/sys_enter_umount")
int handle_umount(struct trace_event_raw_sys_enter *ctx)
{
	return path_event(K_UMOUNT, (const char *)ctx->args[0], ctx->args[1], 0, 0);
}

/* setns(fd, nstype) */
SEC("tracepoint/syscalls/sys_enter_setns")
int handle_setns(struct trace_event_raw_sys_enter *ctx)
{
	return path_event(K_SETNS, 0, ctx->args[0], ctx->args[1], 0);
}

/* unshare(flags) */
SEC("tracepoint/syscalls/sys_enter_unshare")
int handle_unshare(struct trace_event_raw_sys_enter *ctx)
{
	return path_event(K_UNSHARE, 0, ctx->args[0], 0, 0);
}

/* ptrace(request, pid, addr, data) */
SEC("tracepoint/syscalls/sys_enter_ptrace")
int handle_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	return path_event(K_PTRACE, 0, ctx->args[0], ctx->args[1], 0);
}

/* bpf(cmd, attr, size) */
SEC("tracepoint/syscalls/sys_enter_bpf")
int handle_bpf(struct trace_event_raw_sys_enter *ctx)
{
	return path_event(K_BPF, 0, ctx->args[0], ctx->args[2], 0);
}

/* memfd_create(name, flags) */
SEC("tracepoint/syscalls/sys_enter_memfd_create")
int handle_memfd(struct trace_event_raw_sys_enter *ctx)
{
	return path_event(K_MEMFD_CREATE, (const char *)ctx->args[0], ctx->args[1], 0, 0);
}

/* chmod(path, mode): only setuid/setgid modes */
SEC("tracepoint/syscalls/sys_enter_chmod")
int handle_chmod(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[1] & (S_ISUID | S_ISGID)))
		return 0;
	return path_event(K_CHMOD, (const char *)ctx->args[0], ctx->args[1], 0, 0);
}

/* fchmod(fd, mode): args = mode, fd */
SEC("tracepoint/syscalls/sys_enter_fchmod")
int handle_fchmod(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[1] & (S_ISUID | S_ISGID)))
		return 0;
	return path_event(K_FCHMOD, 0, ctx->args[1], ctx->args[0], 0);
}

/* fchmodat(dfd, path, mode) and fchmodat2(dfd, path, mode, flags): args = mode, dfd */
SEC("tracepoint/syscalls/sys_enter_fchmodat")
int handle_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & (S_ISUID | S_ISGID)))
		return 0;
	return path_event(K_FCHMODAT, (const char *)ctx->args[1], ctx->args[2], ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int handle_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & (S_ISUID | S_ISGID)))
		return 0;
	return path_event(K_FCHMODAT, (const char *)ctx->args[1], ctx->args[2], ctx->args[0], 0);
}

/* capset(header, data): args = requested effective, permitted (64-bit, from the two
 * 32-bit halves of the v3 data array) */
SEC("tracepoint/syscalls/sys_enter_capset")
int handle_capset(struct trace_event_raw_sys_enter *ctx)
{
	__u32 d[6] = {};
	bpf_probe_read_user(d, sizeof(d), (void *)ctx->args[1]);
	__u64 eff = (__u64)d[0] | ((__u64)d[3] << 32);
	__u64 perm = (__u64)d[1] | ((__u64)d[4] << 32);
	return path_event(K_CAPSET, 0, eff, perm, 0);
}

SEC("tracepoint/syscalls/sys_enter_setuid")
int handle_setuid(struct trace_event_raw_sys_enter *ctx)
{
	return path_event(K_SETUID, 0, ctx->args[0], 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_setgid")
int handle_setgid(struct trace_event_raw_sys_enter *ctx)
{
	return path_event(K_SETGID, 0, ctx->args[0], 0, 0);
}

/* Module loads. On a kernel with module support the syscalls have their own
 * tracepoints (below). A kernel built without it (CONFIG_MODULES=n, as the one these
 * tests run on) has neither the tracepoints nor any way to load a module; attempts can
 * then still be watched on raw_syscalls:sys_enter, which runs for every syscall of
 * every process (the program compares the number first and returns), so user space
 * attaches that one only when asked to (docs/sensor.md). */
SEC("tracepoint/syscalls/sys_enter_init_module")
int handle_init_module(struct trace_event_raw_sys_enter *ctx)
{
	__u64 len = ctx->args[1];
	return path_event(K_INIT_MODULE, 0, len, 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int handle_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	__u64 fd = ctx->args[0], flags = ctx->args[2];
	return path_event(K_FINIT_MODULE, 0, fd, flags, 0);
}

#if defined(__TARGET_ARCH_arm64)
#define NR_INIT_MODULE 105
#define NR_FINIT_MODULE 273
#else
#define NR_INIT_MODULE 175
#define NR_FINIT_MODULE 313
#endif

SEC("tracepoint/raw_syscalls/sys_enter")
int handle_raw_enter(struct trace_event_raw_sys_enter *ctx)
{
	long id = ctx->id;
	if (id == NR_INIT_MODULE)
		return path_event(K_INIT_MODULE, 0, ctx->args[1], 0, 0);
	if (id == NR_FINIT_MODULE)
		return path_event(K_FINIT_MODULE, 0, ctx->args[0], ctx->args[2], 0);
	return 0;
}
