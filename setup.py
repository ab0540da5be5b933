"""Build and install mmext.

The compiled ops (``mmext._ext``) follow mmcv's layout: every ``.cpp`` under
``mmext/ops/csrc`` is compiled always; the ``.cu`` files are added, and the
extension becomes a ``CUDAExtension`` with ``WITH_CUDA`` defined, only when
both a CUDA toolkit and a CUDA build of torch are present (or
``FORCE_CUDA=1``). ``MMEXT_WITH_OPS=0`` skips the build entirely.

Build without build isolation so that the installed torch is used::

    pip install --no-build-isolation -e .
"""
import glob
import os
import os.path as osp
import sys

from setuptools import find_packages, setup


def get_version() -> str:
    version_file = osp.join('mmext', 'version.py')
    scope: dict = {}
    with open(version_file, encoding='utf-8') as f:
        exec(compile(f.read(), version_file, 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Read a requirements file, skipping comments and ``-r`` includes."""
    reqs = []
    with open(fname, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def get_extensions() -> list:
    if os.getenv('MMEXT_WITH_OPS', '1') == '0':
        return []
    try:
        import torch
    except ImportError as e:
        raise RuntimeError(
            'mmext compiles its ops against the installed torch: install '
            'torch first, then `pip install --no-build-isolation -e .` '
            '(or set MMEXT_WITH_OPS=0 to skip the ops)') from e
    from torch.utils.cpp_extension import (CUDA_HOME, CppExtension,
                                           CUDAExtension)

    csrc = osp.join('mmext', 'ops', 'csrc')
    sources = sorted(
        glob.glob(osp.join(csrc, 'pytorch', '*.cpp')) +
        glob.glob(osp.join(csrc, 'pytorch', 'cpu', '*.cpp')))
    include_dirs = [
        osp.abspath(osp.join(csrc, 'common')),
        osp.abspath(osp.join(csrc, 'common', 'cuda')),
    ]
    define_macros = []
    # no -std flag: torch's BuildExtension adds the standard its headers
    # need (C++20 for torch 2.13, C++17 for older releases)
    extra_compile_args = {'cxx': ['-O3']}
    extra_link_args = []
    if torch.backends.openmp.is_available() and sys.platform != 'darwin':
        # at::parallel_for, the CPU kernels' threading, is header-inline
        # OpenMP in torch's builds: without -fopenmp its `omp parallel` is
        # compiled out and the kernels run on one thread. The libgomp.so.1
        # this links is the one torch has already loaded, so
        # torch.set_num_threads governs the kernels' threads too.
        extra_compile_args['cxx'].append('-fopenmp')
        extra_link_args.append('-fopenmp')

    with_cuda = (torch.cuda.is_available() or os.getenv('FORCE_CUDA', '0')
                 == '1') and CUDA_HOME is not None and torch.version.cuda
    if with_cuda:
        sources += sorted(
            glob.glob(osp.join(csrc, 'pytorch', 'cuda', '*.cu')) +
            glob.glob(osp.join(csrc, 'pytorch', 'cuda', '*.cpp')))
        define_macros.append(('WITH_CUDA', None))
        extra_compile_args['nvcc'] = [
            '-O3', '-D__CUDA_NO_HALF_OPERATORS__',
            '-D__CUDA_NO_HALF_CONVERSIONS__', '-D__CUDA_NO_HALF2_OPERATORS__'
        ]
        ext_cls = CUDAExtension
    else:
        ext_cls = CppExtension
    if not sources:
        return []
    # headers are listed so that `build_ext` rebuilds when only they change
    depends = sorted(
        glob.glob(osp.join(csrc, 'common', '**', '*.h'), recursive=True) +
        glob.glob(osp.join(csrc, 'common', '**', '*.cuh'), recursive=True))
    return [
        ext_cls(
            name='mmext._ext',
            sources=sources,
            depends=depends,
            include_dirs=include_dirs,
            define_macros=define_macros,
            extra_compile_args=extra_compile_args,
            extra_link_args=extra_link_args)
    ]


def get_cmdclass() -> dict:
    if os.getenv('MMEXT_WITH_OPS', '1') == '0':
        return {}
    from torch.utils.cpp_extension import BuildExtension
    return {'build_ext': BuildExtension.with_options(use_ninja=True)}


if __name__ == '__main__':
    setup(
        name='mmext',
        version=get_version(),
        description='MMDetection 3.x extensions: ATMask R-CNN, MR R-CNN, '
        'MaskPlus and weakly supervised hybrid networks',
        long_description=open('README.md', encoding='utf-8').read(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={'mmext.ops': ['csrc/**/*']},
        python_requires='>=3.8',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
        },
        ext_modules=get_extensions(),
        cmdclass=get_cmdclass(),
        zip_safe=False)
