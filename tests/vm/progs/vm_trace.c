/* Tracing programs for the VM: an execve tracepoint reading user strings, a uprobe, a raw tracepoint. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct exec_event {
    __u32 pid, tgid, uid;
    __u32 argc;
    char comm[16];
    char filename[64];
    char argv[3][32];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

struct sys_enter_execve_args {
    __u64 common;
    int syscall_nr;
    const char *filename;
    const char *const *argv;
    const char *const *envp;
};

SEC("tracepoint/syscalls/sys_enter_execve")
int trace_execve(struct sys_enter_execve_args *ctx)
{
    struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 1;
    __u64 id = bpf_get_current_pid_tgid();
    e->pid = (__u32)id;
    e->tgid = id >> 32;
    e->uid = (__u32)bpf_get_current_uid_gid();
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_probe_read_user_str(e->filename, sizeof(e->filename), ctx->filename);
    e->argc = 0;
    for (int i = 0; i < 3; i++) {
        const char *arg = 0;
        if (bpf_probe_read_user(&arg, sizeof(arg), &ctx->argv[i]) || !arg)
            break;
        bpf_probe_read_user_str(e->argv[i], sizeof(e->argv[i]), arg);
        e->argc++;
    }
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int trace_execve_exit(void *ctx)
{
    long ret = *(long *)(ctx + 16);
    __u32 key = ret < 0 ? 1 : 0;
    __u64 one = 1, *v = bpf_map_lookup_elem(&stats, &key);
    if (v)
        *v += 1;
    else
        bpf_map_update_elem(&stats, &key, &one, BPF_ANY);
    bpf_printk("execve returned %ld", ret);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(probe_strlen, const char *s, long limit)
{
    char buf[32] = {};
    long n = bpf_probe_read_user_str(buf, sizeof(buf), s);
    __u32 key = 2;
    __u64 v = (n << 32) | (limit & 0xffffffff);
    bpf_map_update_elem(&stats, &key, &v, BPF_ANY);
    bpf_printk("probe %s %d", buf, n);
    return 0;
}

SEC("raw_tp/sys_enter")
int raw_enter(struct bpf_raw_tracepoint_args *ctx)
{
    __u32 key = 3;
    __u64 v = ctx->args[1] * 10;
    bpf_map_update_elem(&stats, &key, &v, BPF_ANY);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
