"""Files the repository layout promises (DESIGN.md, .gitignore)."""
import os.path as osp
import subprocess

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_work_dirs_gitignore_keeps_outputs_out_of_git():
    path = osp.join(REPO_ROOT, 'work_dirs', '.gitignore')
    assert osp.isfile(path), 'work_dirs/.gitignore is missing'
    with open(path) as f:
        patterns = [
            line.strip() for line in f
            if line.strip() and not line.startswith('#')
        ]
    assert patterns == ['*', '!.gitignore']
    if not osp.isdir(osp.join(REPO_ROOT, '.git')) and not osp.isfile(
            osp.join(REPO_ROOT, '.git')):
        return  # not a checkout: the file's content is all there is to check
    out = subprocess.run(
        ['git', 'check-ignore', '--no-index', '-v',
         'work_dirs/run/epoch_1.pth'],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # ignored
    out = subprocess.run(
        ['git', 'check-ignore', '--no-index', 'work_dirs/.gitignore'],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.returncode == 1  # not ignored: tracked
