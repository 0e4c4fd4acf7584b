/* tiny.c: the smallest static program (exit(0) via syscall), exec'd thousands of times by burst.c. */
void _start(void)
{
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
}
