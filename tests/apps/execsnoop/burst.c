/* burst.c: test helper for execsnoop: NPROC worker processes each vfork+execve TARGET PER_PROC times.
 * Prints the number of execs that succeeded (children exiting 0). Never execs anything but TARGET. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int worker(const char *target, long count)
{
	char *const argv[] = { (char *)target, NULL };
	char *const envp[] = { NULL };
	long ok = 0;

	for (long i = 0; i < count; i++) {
		int status;
		pid_t pid = vfork();

		if (pid < 0)
			break;
		if (pid == 0) {
			execve(target, argv, envp);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	return ok == count ? 0 : 1;
}

int main(int argc, char **argv)
{
	long nproc, per_proc, done = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s NPROC PER_PROC TARGET\n", argv[0]);
		return 2;
	}
	nproc = atol(argv[1]);
	per_proc = atol(argv[2]);
	for (long p = 0; p < nproc; p++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0)
			_exit(worker(argv[3], per_proc));
	}
	for (long p = 0; p < nproc; p++) {
		int status;

		if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			done += per_proc;
	}
	printf("%ld\n", done);
	return done == nproc * per_proc ? 0 : 1;
}
