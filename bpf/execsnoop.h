/* execsnoop.h: the record pybpf's execsnoop sends from the kernel (or the VM) to userspace.
 * Shared by bpf/execsnoop.bpf.c only; the Python decoder mirrors this layout and a test checks it
 * against the object's BTF. Never include kernel headers here. */
#ifndef PYBPF_EXECSNOOP_H
#define PYBPF_EXECSNOOP_H

#define EXECSNOOP_TASK_COMM_LEN 16
#define EXECSNOOP_ARGSIZE 128           /* longest argument kept, including its NUL */
#define EXECSNOOP_TOTAL_MAX_ARGS 20     /* hard limit on arguments per event (filename counts) */
#define EXECSNOOP_DEFAULT_MAX_ARGS 20
#define EXECSNOOP_ARGS_BUF (EXECSNOOP_TOTAL_MAX_ARGS * EXECSNOOP_ARGSIZE)
#define EXECSNOOP_LAST_ARG (EXECSNOOP_ARGS_BUF - EXECSNOOP_ARGSIZE)
#define EXECSNOOP_INVALID_UID 0xffffffffu

/* event.flags */
#define EXECSNOOP_FLAG_TRUNCATED 1u      /* the process had more arguments than max_args */
#define EXECSNOOP_FLAG_EXECVEAT 2u       /* came from execveat(2), not execve(2) */

/* index into the "stats" array map */
#define EXECSNOOP_STAT_RINGBUF_DROPS 0   /* events lost because the ring buffer was full */
#define EXECSNOOP_STAT_INFLIGHT_DROPS 1  /* execs missed because the in-flight table was full */
#define EXECSNOOP_STAT_COUNT 2

/* failed_mode (.rodata) */
#define EXECSNOOP_SUCCESS_ONLY 0         /* libbpf-tools' default: successful execs only */
#define EXECSNOOP_ALL 1                  /* successful and failed (libbpf-tools -x) */
#define EXECSNOOP_FAILED_ONLY 2          /* failed execs only */

struct execsnoop_event {
	__u64 ts_ns;                     /* bpf_ktime_get_ns() at syscall exit */
	__u32 pid;                       /* tgid of the exec'ing process */
	__u32 ppid;                      /* task->real_parent->tgid */
	__u32 uid;
	__s32 retval;                    /* 0 or -errno */
	__u32 args_count;                /* NUL-terminated strings in args (filename first) */
	__u32 args_size;                 /* bytes of args in use */
	__u32 flags;                     /* EXECSNOOP_FLAG_* */
	__u32 pad;
	char comm[EXECSNOOP_TASK_COMM_LEN];
	char args[EXECSNOOP_ARGS_BUF];
};

#define EXECSNOOP_HEADER_SIZE ((unsigned long)&((struct execsnoop_event *)0)->args)

#endif
