"""Tests for tffl/compiler/local_variables.py: variables as plain values of a traced graph."""

import numpy as np
import pytest
import tensorflow as tf

from tffl.compiler import local_variables
from tffl.compiler import tensor_sequence
from tffl.types import computation_types

STATEFUL_VARIABLE_OPS = {"VarHandleOp", "ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp"}


def _in_scope(fn):
    """`fn` as a tf.function whose variables are `LocalVariable`s, as the lowering traces it."""

    def run(*args):
        scope = local_variables.Scope(tf.compat.v1.get_default_graph())
        with scope, tf.variable_creator_scope(scope.creator):
            return fn(*args)

    return tf.function(run)


def _op_types(function, *args):
    graph = function.get_concrete_function(*args).graph
    types = {op.type for op in graph.get_operations()}
    for body in graph.as_graph_def().library.function:
        types.update(node.op for node in body.node_def)
    return types


def _int_sequence(values):
    return tensor_sequence.TensorSequence(
        computation_types.TensorType(np.float32),
        [tf.constant(np.asarray(values, np.float32))],
        [None],
        tf.constant(len(values)),
    )


class TestReadAndAssign:
    def test_reads_give_the_latest_assignment(self):
        def fn():
            v = tf.Variable(2.0)
            first = v + 0.0
            v.assign(5.0)
            v.assign_add(3.0)
            v.assign_sub(1.0)
            return first, v.read_value(), tf.convert_to_tensor(v)

        function = _in_scope(fn)

        assert [float(t) for t in function()] == [2.0, 7.0, 7.0]
        assert not _op_types(function) & STATEFUL_VARIABLE_OPS

    def test_tf_variable_in_scope_is_a_local_variable(self):
        made = []

        def fn():
            v = tf.Variable(tf.zeros([2, 3]), name="kernel", trainable=False)
            made.append(v)
            return tf.shape(v)

        _in_scope(fn).get_concrete_function()

        variable = made[0]
        assert isinstance(variable, local_variables.LocalVariable)
        assert isinstance(variable, tf.Variable)
        assert (variable.name, variable.shape.as_list(), variable.dtype, variable.trainable) == (
            "kernel",
            [2, 3],
            tf.float32,
            False,
        )

    def test_an_assignment_of_the_wrong_shape_is_refused(self):
        def fn():
            v = tf.Variable(tf.zeros([2]), name="bias")
            v.assign(tf.zeros([3]))
            return v.read_value()

        with pytest.raises(ValueError, match=r"variable 'bias': expected shape \(2,\), got \(3,\)"):
            _in_scope(fn).get_concrete_function()

    def test_keras_layer_weights_are_local_and_stateless(self):
        def fn(x):
            layer = tf.keras.layers.Dense(
                2, kernel_initializer="ones", bias_initializer=tf.keras.initializers.Constant(0.5)
            )
            y = layer(x)
            layer.kernel.assign(layer.kernel * 2.0)
            return y, layer(x)

        function = _in_scope(fn)
        x = tf.constant([[1.0, 2.0, 3.0]])

        before, after = function(x)

        np.testing.assert_array_equal(before, [[6.5, 6.5]])
        np.testing.assert_array_equal(after, [[12.5, 12.5]])
        assert not _op_types(function, x) & STATEFUL_VARIABLE_OPS


class TestGradients:
    def test_tape_differentiates_with_respect_to_the_current_value(self):
        def fn():
            w = tf.Variable([1.0, 2.0, 3.0])
            b = tf.Variable(0.5)
            x = tf.constant([4.0, 5.0, 6.0])
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(w * w * x) + 3.0 * b
            return tape.gradient(loss, [w, b])

        dw, db = _in_scope(fn)()

        # d/dw sum(w² x) = 2 w x; d/db 3b = 3.
        np.testing.assert_array_equal(dw, [8.0, 20.0, 36.0])
        assert float(db) == 3.0

    def test_a_training_loop_matches_resource_variables(self):
        def fn():
            w = tf.Variable([1.0, -1.0])
            for x in [tf.constant([0.5, 1.5]), tf.constant([2.0, -1.0])]:
                with tf.GradientTape() as tape:
                    loss = tf.reduce_sum(tf.square(w * x - 1.0))
                w.assign_sub(0.1 * tape.gradient(loss, w))
            return w.read_value()

        def with_tensors():
            w = tf.constant([1.0, -1.0])
            for x in [tf.constant([0.5, 1.5]), tf.constant([2.0, -1.0])]:
                with tf.GradientTape() as tape:
                    tape.watch(w)
                    loss = tf.reduce_sum(tf.square(w * x - 1.0))
                w = w - 0.1 * tape.gradient(loss, w)
            return w

        got = _in_scope(fn)()

        np.testing.assert_array_equal(got, tf.function(with_tensors)())
        np.testing.assert_allclose(got, [0.61, -0.4], rtol=1e-6)

    def test_non_trainable_variables_are_not_watched(self):
        def fn():
            w = tf.Variable(2.0, trainable=False)
            with tf.GradientTape() as tape:
                loss = w * w
            return tape.gradient(loss, w)

        assert _in_scope(fn)() is None


class TestCarry:
    def test_a_sequence_loop_carries_assignments(self):
        def fn():
            total = tf.Variable(0.0)
            count = tf.Variable(0)
            for x in _int_sequence([1.0, 2.0, 4.0]):
                total.assign_add(x)
                count.assign_add(1)
            return total.read_value(), count.read_value()

        function = _in_scope(tf.autograph.to_graph(fn))

        total, count = function()

        assert (float(total), int(count)) == (7.0, 3)
        assert not _op_types(function) & STATEFUL_VARIABLE_OPS

    def test_sequence_reduce_carries_assignments(self):
        def fn():
            calls = tf.Variable(0)

            def step(state, x):
                calls.assign_add(1)
                return state + x

            total = _int_sequence([1.0, 2.0, 4.0]).reduce(np.float32(0), step)
            return total, calls.read_value()

        total, calls = _in_scope(fn)()

        assert (float(total), int(calls)) == (7.0, 3)

    def test_an_assignment_in_a_cond_branch_is_not_carried(self):
        def fn(flag):
            v = tf.Variable(1.0)
            if flag:
                v.assign(2.0)
            return v.read_value()

        with pytest.raises(
            local_variables.NotCarried, match="assigned inside a CondBranchFuncGraph"
        ):
            _in_scope(tf.autograph.to_graph(fn)).get_concrete_function(tf.constant(True))

    def test_an_assignment_in_another_while_loop_is_not_carried(self):
        def fn():
            v = tf.Variable(0.0)
            for _ in tf.range(3):
                v.assign_add(1.0)
            return v.read_value()

        with pytest.raises(local_variables.NotCarried, match="WhileBodyFuncGraph"):
            _in_scope(tf.autograph.to_graph(fn)).get_concrete_function()

    def test_a_variable_made_inside_a_sequence_loop_is_not_carried(self):
        def fn():
            total = tf.constant(0.0)
            for x in _int_sequence([1.0, 2.0]):
                v = tf.Variable(0.0)
                v.assign_add(x)
                total += v
            return total

        with pytest.raises(local_variables.NotCarried, match="assigned inside"):
            _in_scope(tf.autograph.to_graph(fn)).get_concrete_function()

    def test_reads_inside_other_control_flow_see_the_value(self):
        def fn(flag):
            v = tf.Variable(3.0)
            v.assign(4.0)
            return tf.cond(flag, lambda: v + 1.0, lambda: v - 1.0)

        function = _in_scope(fn)

        assert float(function(tf.constant(True))) == 5.0
        assert float(function(tf.constant(False))) == 3.0
