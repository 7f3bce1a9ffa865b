/* The event record shared by the BPF programs and src/event.rs (which decodes it by
 * these offsets; keep the two in step). All integers little-endian, host order. */
#ifndef BULWARK_SENSOR_H
#define BULWARK_SENSOR_H

#define STR1_LEN 256
#define STR2_LEN 256
#define STR3_LEN 64
#define TASK_COMM 16

/* Event kinds (src/event.rs Kind). */
enum kind {
	K_EXEC = 1,
	K_EXIT = 2,
	K_FORK = 3,
	K_OPENAT = 4,
	K_OPENAT2 = 5,
	K_CONNECT = 6,
	K_ACCEPT = 7,
	K_MOUNT = 8,
	K_UMOUNT = 9,
	K_SETNS = 10,
	K_UNSHARE = 11,
	K_PTRACE = 12,
	K_INIT_MODULE = 13,
	K_FINIT_MODULE = 14,
	K_BPF = 15,
	K_MEMFD_CREATE = 16,
	K_CHMOD = 17,
	K_FCHMOD = 18,
	K_FCHMODAT = 19,
	K_CAPSET = 20,
	K_SETUID = 21,
	K_SETGID = 22,
	K_ACCEPT4 = 23,
	K_ACCEPTED = 24, /* accept/accept4 returned a connection (syscall exit) */
	K_MAX = 25,
};

/* flags */
#define F_TTY 1u          /* the process has a controlling terminal */
#define F_KILLED 2u       /* bpf_send_signal(SIGKILL) was issued in the kernel */
#define F_HELD 4u         /* SIGSTOP sent in the kernel: user space decides kill or SIGCONT */

struct event {
	__u64 ts;                 /* 0   bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u64 cap_eff;            /* 8   effective capabilities */
	__u64 args[4];            /* 16  numeric syscall arguments, per kind */
	__u32 kind;               /* 48 */
	__u32 pid;                /* 52  tgid */
	__u32 tid;                /* 56 */
	__u32 ppid;               /* 60  real parent's tgid */
	__u32 vpid;               /* 64  pid in the task's own pid namespace */
	__u32 uid;                /* 68 */
	__u32 gid;                /* 72 */
	__u32 mntns;              /* 76  mount namespace inum */
	__u32 pidns;              /* 80  pid namespace inum */
	__u32 flags;              /* 84 */
	__u32 str2_len;           /* 88  bytes valid in str2 (exec args are NUL-separated) */
	__u32 pad;                /* 92  1 when in the urgent ring */
	char comm[TASK_COMM];     /* 96 */
	char pcomm[TASK_COMM];    /* 112 */
	char str1[STR1_LEN];      /* 128 path / filename */
	char str2[STR2_LEN];      /* 384 exec args / sockaddr / mount source */
	char str3[STR3_LEN];      /* 640 exe dentry name / mount fstype */
};                            /* 704 */

#endif
