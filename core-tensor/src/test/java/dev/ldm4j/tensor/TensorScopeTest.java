// TensorScope frees what was made inside it except what it keeps, hands kept results to the enclosing
// scope, and never touches tensors from outside; ReleaseCheckingBackend catches use after release.
package dev.ldm4j.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorScopeTest {
    private final ReleaseCheckingBackend b = new ReleaseCheckingBackend(Backends.create("cpu"));

    private static Tensor input() {
        return Tensor.of(new float[] {1, -2, 3, -4, 5, -6}, 2, 3);
    }

    @Test
    void releasesIntermediatesAndKeepsTheResult() {
        Tensor x = input();
        Tensor tmp;
        Tensor out;
        try (TensorScope s = TensorScope.open()) {
            tmp = b.scale(x, 2f);
            out = s.keep(b.add(tmp, x).reshape(3, 2));
        }
        assertTrue(b.isReleased(tmp));
        assertFalse(b.isReleased(out));
        assertArrayEquals(new float[] {3, -6, 9, -12, 15, -18}, out.toFloatArray());
        assertArrayEquals(new float[] {1, -2, 3, -4, 5, -6}, x.toFloatArray(), "an input from outside is never released");
        assertEquals(out.numel() * 4, b.liveBytes());
        assertEquals(2 * out.numel() * 4, b.peakBytes());
    }

    @Test
    void keptResultsMoveToTheEnclosingScope() {
        Tensor x = input();
        Tensor inner;
        Tensor outer;
        try (TensorScope s = TensorScope.open()) {
            try (TensorScope t = TensorScope.open()) {
                inner = t.keep(b.scale(x, 3f));
            }
            assertFalse(b.isReleased(inner));
            outer = s.keep(b.add(inner, x));
        }
        assertTrue(b.isReleased(inner), "the enclosing scope did not keep it");
        assertFalse(b.isReleased(outer));
    }

    @Test
    void aReleasedTensorCannotBeUsedAndReadsAsNaN() {
        Tensor x = input();
        Tensor tmp;
        try (TensorScope s = TensorScope.open()) {
            tmp = b.scale(x, 2f);
        }
        Tensor dead = tmp;
        assertThrows(IllegalStateException.class, () -> b.add(dead.reshape(3, 2), dead.reshape(3, 2)));
        assertTrue(Float.isNaN(dead.toFloatArray()[0]));
    }

    @Test
    void releasingAWeightOrInputIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> b.release(input()));
    }

    @Test
    void releaseTwiceAndAnEarlyReleaseInsideAScopeAreHarmless() {
        Tensor x = input();
        try (TensorScope s = TensorScope.open()) {
            Tensor tmp = b.scale(x, 2f);
            b.release(tmp);
            b.release(tmp);
        }
        assertEquals(0, b.liveBytes());
    }

    @Test
    void aScopeReleasesEarlyOnlyWhatItMade() {
        Tensor x = b.scale(input(), 1f);
        Tensor first;
        Tensor second;
        try (TensorScope s = TensorScope.open()) {
            first = b.scale(x, 2f);
            s.release(x);
            s.release(first);
            assertTrue(b.isReleased(first));
            second = s.keep(b.scale(x, 3f));
            s.release(second);
        }
        assertFalse(b.isReleased(x), "made outside the scope");
        assertFalse(b.isReleased(second), "kept");
    }

    @Test
    void anExceptionInsideAScopeStillFreesItsTensors() {
        Tensor x = input();
        Tensor[] made = new Tensor[1];
        assertThrows(IllegalArgumentException.class, () -> {
            try (TensorScope s = TensorScope.open()) {
                made[0] = b.scale(x, 2f);
                b.add(made[0], Tensor.zeros(4, 4));
            }
        });
        assertTrue(b.isReleased(made[0]));
    }

    @Test
    void suspendedScopesSeeNothing() {
        Tensor x = input();
        Tensor made;
        try (TensorScope s = TensorScope.open()) {
            try (TensorScope.Suspension hidden = TensorScope.suspend()) {
                made = b.scale(x, 2f);
            }
        }
        assertFalse(b.isReleased(made));
    }

    @Test
    void scopesMustCloseInnermostFirst() {
        TensorScope outer = TensorScope.open();
        TensorScope inner = TensorScope.open();
        assertThrows(IllegalStateException.class, outer::close);
        inner.close();
        outer.close();
    }

    @Test
    void aFailedReleaseStillReleasesTheRestThenReportsIt() {
        java.util.List<Tensor> released = new java.util.ArrayList<>();
        Tensor bad = input();
        Backend owner = (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("release")) {
                        if (args[0] == bad) {
                            throw new IllegalStateException("cannot release");
                        }
                        released.add((Tensor) args[0]);
                        return null;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
        Tensor first = input();
        Tensor last = input();
        TensorScope s = TensorScope.open();
        TensorScope.made(owner, first);
        TensorScope.made(owner, bad);
        TensorScope.made(owner, last);
        var e = assertThrows(IllegalStateException.class, s::close);
        assertEquals("cannot release", e.getMessage());
        assertEquals(java.util.List.of(first, last), released);
        s.close();
        assertEquals(java.util.List.of(first, last), released, "closing again releases nothing twice");
    }
}
