"""mmext.utils.profiling: module scopes in a profiler trace."""
import torch
import torch.nn as nn

from mmext.utils.profiling import (annotate_modules, extra_time_table,
                                   profile_steps)


class Head(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)

    def predict_by_feat(self, x):
        return self(x).sigmoid()


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU())
        self.head = Head()

    def forward(self, x):
        return self.head.predict_by_feat(self.backbone(x))


def test_scopes_name_modules_and_head_methods_then_vanish():
    net = Net()
    x = torch.randn(2, 3, 16, 16)
    expected = net(x)
    scopes, ops, wall = profile_steps(lambda: net(x), 2, net, depth=2)
    assert {'module::backbone', 'module::head', 'module::backbone.0',
            'module::head.conv', 'method::head.predict_by_feat'} <= set(scopes)
    assert 'module::head.conv.weight' not in scopes
    # a called module's scope covers its submodules' (inclusive times)
    assert scopes['method::head.predict_by_feat'] >= scopes['module::head']
    assert any('conv' in name for name in ops) and wall > 0
    # the hooks and method wrappers are gone afterwards, results unchanged
    assert 'predict_by_feat' not in net.head.__dict__
    assert not net.head._forward_pre_hooks and not net.head._forward_hooks
    torch.testing.assert_close(net(x), expected)


def test_depth_limits_the_scopes():
    net = Net()
    with annotate_modules(net, depth=1):
        assert net.backbone._forward_pre_hooks
        assert not net.head.conv._forward_pre_hooks


def test_extra_time_table_sorts_by_extra_time():
    table = extra_time_table({'a': 1.0, 'b': 5.0}, {'a': 4.0, 'c': 2.0},
                             top=2)
    lines = table.splitlines()
    assert lines[2] == '| `a` | 1.0 | 4.0 | +3.0 |'
    assert lines[3] == '| `c` | 0.0 | 2.0 | +2.0 |'
    assert len(lines) == 4  # 'b' (-5 ms) left out by top=2
