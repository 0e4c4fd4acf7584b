/* core_strings.bpf.c: string literals (.rodata.str1.1), a custom .rodata.* section and a CO-RE
 * read feeding bpf_snprintf-style formatting; checks libbpf's naming of such data maps. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "core_kernel.h"

const volatile char prefix[4] SEC(".rodata.prefix") = "pid";
char out[64];

SEC("raw_tp/sys_enter")
int format_pid(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 args[2] = { (__u64)(long)prefix, BPF_CORE_READ(task, pid) };

	bpf_snprintf(out, sizeof(out), "%s=%d", args, sizeof(args));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
