#ifndef CHFSHARE_H
#define CHFSHARE_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/xattr.h>

/* The subset of statx that the policy needs, flattened so Swift sees plain fields. */
struct hf_stat {
    uint32_t mode;
    uint32_t uid;
    uint32_t gid;
    uint32_t nlink;
    uint64_t ino;
    uint64_t dev;      /* makedev(major, minor) */
    uint64_t size;
    int64_t mtime_sec;
    uint32_t mtime_nsec;
    int64_t ctime_sec;
    uint32_t ctime_nsec;
    uint64_t mnt_id;
};

/* statx relative to dirfd; flags are AT_* flags. Returns 0 or -1 with errno. */
int hf_statx(int dirfd, const char *name, int flags, struct hf_stat *out);

/* Raw getdents64 into buf. Returns bytes, 0 at end, -1 with errno. */
long hf_getdents64(int fd, void *buf, size_t len);

/* Walks a getdents64 buffer: fills name/type/ino of the record at *offset and advances it.
   Returns 1 while records remain, 0 at the end of the buffer. */
int hf_dirent_next(const void *buf, long len, long *offset, const char **name, unsigned char *type, uint64_t *ino);

/* openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS; -1/ENOSYS where the kernel lacks it. */
int hf_openat_beneath(int dirfd, const char *path, int flags, unsigned mode);

/* statfs f_type of an open fd, or -1. */
long hf_fstatfs_type(int fd);

/* fchmodat with AT_EMPTY_PATH style semantics for O_PATH descriptors (via /proc/self/fd). */
int hf_fchmod_path_fd(int fd, unsigned mode);

long hf_copy_file_range(int in_fd, int out_fd, size_t len);
/* Sets mtime (atime left alone). */
int hf_set_mtime(int fd, int64_t sec, long nsec);

/* getxattrat(2) (Linux 6.13+): an xattr of `path` relative to dirfd, one syscall, no path via /proc.
   Returns the size, or -1 with errno (ENOSYS on older kernels). */
long hf_getxattrat(int dirfd, const char *path, int at_flags, const char *name, void *buf, size_t size);

int hf_open(int dirfd, const char *name, int flags, unsigned mode);

/* statfs fields for the probe. 0 or -1 with errno. */
struct hf_statfs { long type; unsigned long flags; long namelen; };
int hf_fstatfs(int fd, struct hf_statfs *out);

/* Lock attempts by up to n child processes (api 0 flock, 1 F_SETLK, 2 F_OFD_SETLK), forked one after
   another and all kept alive until hf_lock_batch_end (so each has its own lock owner). Each child
   opens name in dirfd and tries the lock without blocking: results[i] is 0 if it got the lock, else its
   errno (EWOULDBLOCK/EAGAIN/EACCES when somebody holds it). hold 0: each child releases at once;
   hold 1: stop at the first child that got it, which holds it until hf_lock_batch_end.
   Returns how many children ran (results filled), -1 with errno if none could. */
#define HF_LOCK_BATCH_MAX 64
struct hf_lock_batch { int control; int count; int pids[HF_LOCK_BATCH_MAX]; };
int hf_lock_batch_run(int dirfd, const char *name, int api, int exclusive, int hold, int n, int *results,
                      struct hf_lock_batch *b);
void hf_lock_batch_end(struct hf_lock_batch *b);

/* Starts path in a new session (setsid: no controlling terminal, its own process group), default signal
   dispositions and an empty signal mask, stdin/stdout/stderr from the given fds and every other fd
   closed. 0 and *pid, or an errno. */
int hf_spawn_detached(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd, int *pid);

/* prctl(PR_SET_DUMPABLE, 0): no process of the same uid may ptrace or read our memory */
int hf_set_not_dumpable(void);
/* pipe2(fds, O_CLOEXEC) */
int hf_pipe_cloexec(int fds[2]);

extern const int HF_O_PATH;
extern const int HF_O_NOATIME;
extern const int HF_O_NOFOLLOW;
extern const int HF_O_DIRECTORY;
extern const int HF_O_CLOEXEC;
extern const int HF_O_NONBLOCK;
extern const int HF_O_TMPFILE;
extern const int HF_AT_EMPTY_PATH;
extern const int HF_AT_SYMLINK_NOFOLLOW;
extern const int HF_AT_REMOVEDIR;

/* glibc's M_ARENA_MAX: how many malloc arenas threads share (default 8 per core). */
int hf_limit_malloc_arenas(int arenas);

#endif
