"""Knowledge distillation (Hinton, Vinyals & Dean 2015) for any family: a student learns from a teacher's
softened outputs as well as from the labels::

    L = α · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α) · CE(s, y)

s, t the student's and teacher's logits, T the temperature, KL averaged over the batch (``F.kl_div`` with
``reduction='batchmean'``, torch's semantics); the T² keeps the soft term's gradients at the scale of the
hard term's as T changes (the gradient of the soft term scales as 1/T²).

:class:`DistillationLoss` is a ``loss_fn`` for :class:`~tinycompress.train.Trainer`: a forward pre-hook on
the student records its input, and while the student trains the loss runs the teacher (eval mode, no graph)
on that input; in eval mode it is the plain cross-entropy (so test losses stay comparable).
"""
from __future__ import annotations

from ..nn import functional as F


def distillation_loss(student_logits, teacher_logits, target, T: float = 4.0, alpha: float = 0.9,
                      reduction: str = "batchmean"):
    """``α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y)`` (module docstring); the teacher's logits
    are a constant (detached)."""
    T, alpha = float(T), float(alpha)
    if not T > 0:
        raise ValueError(f"distillation temperature T must be > 0, got {T}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distillation alpha must be in [0, 1], got {alpha}")
    soft = F.kl_div(F.log_softmax(student_logits / T, dim=1), F.softmax(teacher_logits.detach() / T, dim=1),
                    reduction=reduction)
    loss = soft * (alpha * T * T)
    if alpha < 1.0:
        loss = loss + F.cross_entropy(student_logits, target) * (1.0 - alpha)
    return loss


class DistillationLoss:
    """``loss_fn(out, y)`` distilling ``teacher`` into ``student`` while the student trains (module docstring).
    ``teacher_input`` maps the student's input to the teacher's (e.g. another normalisation); default: the same."""

    def __init__(self, student, teacher, T: float = 4.0, alpha: float = 0.9, teacher_input=None):
        if not float(T) > 0 or not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"DistillationLoss: need T > 0 and alpha in [0, 1], got T={T}, alpha={alpha}")
        self.student, self.teacher, self.T, self.alpha = student, teacher.eval(), float(T), float(alpha)
        self.teacher_input = teacher_input or (lambda x: x)
        self._input = None
        self._handle = student.register_forward_pre_hook(self._record)

    def _record(self, module, args):
        self._input = args[0] if module.training else None

    def __call__(self, out, target):
        from .. import no_grad
        if not self.student.training or self._input is None:
            return F.cross_entropy(out, target)
        with no_grad():
            teacher_logits = self.teacher(self.teacher_input(self._input))
        self._input = None
        return distillation_loss(out, teacher_logits, target, self.T, self.alpha)

    def remove(self) -> None:
        """Detach from the student (remove the hook)."""
        self._handle.remove()
