/* core_externs.bpf.c: direct CO-RE loads through a BTF pointer (tp_btf), .kconfig externs,
 * a typed __ksym variable and kfunc calls. Results go to .bss; never writes kernel memory. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_kernel.h"

extern int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern unsigned long CONFIG_HZ __kconfig __weak;
extern char CONFIG_PYBPF_NO_SUCH_OPTION __kconfig __weak;

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

struct externs_out {
	__u64 hz;
	__s32 next_pid;
	__s32 prev_tgid;
	__u32 version;
	__u8 has_syscall;
	__u8 missing_option;
	__u64 nofile;
};

struct externs_out externs_result;

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, _Bool preempt, struct task_struct *prev, struct task_struct *next)
{
	bpf_rcu_read_lock();
	externs_result.next_pid = next->pid;
	externs_result.prev_tgid = prev->tgid;
	externs_result.nofile = next->signal->rlim[7].rlim_cur;
	bpf_rcu_read_unlock();
	externs_result.version = LINUX_KERNEL_VERSION;
	externs_result.has_syscall = CONFIG_BPF_SYSCALL;
	externs_result.hz = CONFIG_HZ;
	externs_result.missing_option = CONFIG_PYBPF_NO_SUCH_OPTION;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
